"""The form of a judge's reading: what it is asked and how its reply becomes a verdict. ``Direct`` picks a letter."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field, create_model

from agora.backends import Backend
from agora.errors import ConfigError
from agora.state import View
from agora.structured import Structured, ask_structured
from agora.transcript import LABELS
from agora.types import Message, Settings, TokenLogprob, Verdict

ABSTAIN = "ABSTAIN"
ABSTAIN_PROMPT = f" If you cannot tell at all, answer {ABSTAIN!r}."


_ANSWER_KEY = re.compile(r'"answer"\s*:\s*"\s*$')


def answer_probability(tokens: Sequence[TokenLogprob], letter: str, labels: Sequence[str]) -> float | None:
    """The probability of ``letter`` at the token where the verdict's ``answer`` value starts, renormalised over
    the answer labels among that position's top alternatives; None when the tokens do not show it.
    """
    text = ""
    for token in tokens:
        if token.token.strip() == letter and _ANSWER_KEY.search(text):
            options = {alt.strip(): lp for alt, lp in token.top.items() if alt.strip() in labels}
            options[letter] = token.logprob
            return math.exp(options[letter]) / sum(math.exp(lp) for lp in options.values())
        text += token.token
    return None


@lru_cache(maxsize=64)
def verdict_schema(n_answers: int, allow_abstain: bool = False, reasoning: bool = True) -> type[BaseModel]:
    """The schema a judge fills for ``n_answers`` candidates: reasoning first (unless ``reasoning`` is off), then
    answer, then confidence."""
    if not 2 <= n_answers <= len(LABELS):
        raise ConfigError(f"a judge needs between 2 and {len(LABELS)} answers, got {n_answers}")
    choices = (*LABELS[:n_answers], *((ABSTAIN,) if allow_abstain else ()))
    fields: dict[str, Any] = {
        "reasoning": (str, Field(min_length=1, description="step-by-step reasoning, written first, concise")),
        "answer": (Literal[choices], Field(description="the letter of the chosen answer")),
        "confidence": (int, Field(ge=0, le=100, description="probability (0-100) that the chosen answer is correct")),
    }
    if not reasoning:
        del fields["reasoning"]
    return create_model("JudgeVerdict", **fields)


class Reader(Protocol):
    """What a form uses of the judge that reads with it (an ``agora.agents.judge.Judge``)."""

    model: Backend
    max_reasks: int
    allow_abstain: bool
    answer_first_prompt: str

    def prompt_parts(self, seen: View, instructions: str | None = None) -> tuple[list[Message], str]: ...

    def verdict(self, result: Structured[Any], **fields: Any) -> Verdict: ...


class Form(Protocol):
    """One reading of a view by a judge: a single structured ask (or a few), turned into a verdict.

    ``read`` returns the verdict in the order of ``seen.answers``; the judge repeats it for samples and swaps.
    """

    name: str

    async def read(self, judge: Reader, seen: View, settings: Settings) -> Verdict: ...


class Direct:
    """The judge chooses a letter and states its confidence (and may abstain when the judge allows it).

    With ``reasoning`` off (``--no-reasoning``) the letter comes first, under the judge's ``answer_first_prompt``: a
    reply of a few tokens, and with logprobs the model's probability of each answer before any argument of its own
    (after its own reasoning a small model is all but certain of whatever letter it wrote).
    """

    def __init__(self, reasoning: bool = True) -> None:
        self.reasoning = reasoning
        self.name = "direct" if reasoning else "direct-no-reasoning"

    async def read(self, judge: Reader, seen: View, settings: Settings) -> Verdict:
        schema = verdict_schema(len(seen.answers), judge.allow_abstain, self.reasoning)
        instructions = None
        if not self.reasoning:
            instructions = judge.answer_first_prompt + (ABSTAIN_PROMPT if judge.allow_abstain else "")
        messages, tail = judge.prompt_parts(seen, instructions)
        result = await ask_structured(judge.model, messages, schema, settings, max_reasks=judge.max_reasks, tail=tail)
        reply: Any = result.value
        abstained = reply.answer == ABSTAIN
        labels = LABELS[: len(seen.answers)]
        tokens = result.completions[-1].logprobs
        return judge.verdict(
            result,
            choice=None if abstained else LABELS.index(reply.answer),
            confidence=reply.confidence,
            reasoning=getattr(reply, "reasoning", ""),
            abstained=abstained,
            probability=None if abstained else answer_probability(tokens, reply.answer, labels),
        )
