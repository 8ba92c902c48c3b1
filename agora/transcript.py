"""Rendering a transcript as text for an agent's prompt, with quote marks for the judge."""

from __future__ import annotations

import string
from collections.abc import Sequence
from functools import lru_cache

from agora.fence import fence
from agora.quotes import mark_quotes
from agora.types import Turn

LABELS = string.ascii_uppercase


def label(index: int) -> str:
    """The letter of answer ``index``: 0 → A."""
    return LABELS[index]


def render_answers(answers: Sequence[str]) -> str:
    """``Answer A:\\n...`` blocks."""
    return "\n\n".join(f"Answer {label(i)}:\n{fence(a)}" for i, a in enumerate(answers))


@lru_cache(maxsize=4096)
def render_turn(turn: Turn) -> str:
    """One turn, fenced as data, its quotes marked ``<v_quote>`` (verified) or ``<u_quote>`` (unverified).

    Turns are frozen, and each is rendered again for every later prompt of its debate: the text is kept for the
    most recent turns."""
    side = f", arguing for Answer {label(turn.side)}" if turn.side is not None else ""
    text = fence(mark_quotes(turn.text, turn.quotes))
    return f"[Round {turn.round}] {turn.speaker} ({turn.role}{side}):\n{text}"


def render_transcript(turns: Sequence[Turn]) -> str:
    """The whole transcript, or an empty string."""
    return "\n\n".join(render_turn(t) for t in turns)
