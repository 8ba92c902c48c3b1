"""Node factories shared by the protocols: speakers, judges, the judge's questions, side assignment."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from agora.agents.debater import Debater
from agora.quotes import extract_quotes
from agora.state import DebateState, View, view
from agora.types import Turn, Verdict

# An async function DebateState -> state update. Typed Any: LangGraph's add_node overloads reject a precise Callable.
Node = Any


class Decider(Protocol):
    """Anything that turns a view into a verdict: a ``Judge``, a ``Juror``, a ``HumanJudge``."""

    name: str

    async def decide(self, seen: View) -> Verdict: ...


def speaker_node(agent: Debater, *, sees_evidence: bool = True, simultaneous: bool = False) -> Node:
    """A debater or consultant turn; quotes are verified against the evidence, whatever the agent saw.

    With ``simultaneous``, the agent sees only the turns of earlier rounds.
    """

    async def speak(state: DebateState) -> dict[str, Any]:
        turns = state.get("transcript", [])
        round_ = 1 + sum(1 for t in turns if t.speaker == agent.name)
        visible = [t for t in turns if t.round < round_] if simultaneous else turns
        side = state["sides"][agent.name]
        text = await agent.argue(view(state, evidence=sees_evidence, transcript=visible), side, round_)
        turn = Turn(
            speaker=agent.name,
            role=agent.role,  # type: ignore[arg-type]
            round=round_,
            text=text,
            side=side,
            quotes=extract_quotes(text, state.get("evidence")),
        )
        return {"transcript": [turn]}

    return speak


def judge_node(judge: Decider, *, sees_evidence: bool = False) -> Node:
    """The judge reads its view and adds a verdict."""

    async def decide(state: DebateState) -> dict[str, Any]:
        return {"verdicts": [await judge.decide(view(state, evidence=sees_evidence))]}

    return decide


def question_node(judge: Any, consultant: str) -> Node:
    """The judge asks the consultant a question (consultancy); it joins the transcript in the same round."""

    async def ask(state: DebateState) -> dict[str, Any]:
        round_ = sum(1 for t in state.get("transcript", []) if t.speaker == consultant)
        text = await judge.ask(view(state, evidence=False))
        return {"transcript": [Turn(speaker=judge.name, role="judge", round=round_, text=text)]}

    return ask


def seeded_side(question: str, n_answers: int, seed: int) -> int:
    """A side drawn at random, reproducibly per question and seed."""
    return random.Random(f"{seed}\x1f{question}").randrange(n_answers)


def sides_node(assign: Callable[[DebateState], Awaitable[dict[str, int]]]) -> Node:
    """Assigns each speaker the answer it argues."""

    async def setup(state: DebateState) -> dict[str, Any]:
        return {"sides": await assign(state)}

    return setup


def rounds_done(state: DebateState, speakers: Sequence[str]) -> int:
    """Rounds every one of ``speakers`` has finished."""
    turns = state.get("transcript", [])
    return min(sum(1 for t in turns if t.speaker == s) for s in speakers)
