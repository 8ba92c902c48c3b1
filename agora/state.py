"""Graph state shared by every protocol, and the views that decide what each agent may see.

Information asymmetry is enforced here: an agent is handed a ``View``, never the state, and only views
built with ``evidence=True`` carry the evidence.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Protocol

from typing_extensions import TypedDict  # pydantic reads the JSON schema of typing's TypedDict only on 3.12+

from agora.types import Decision, Turn, Verdict

if TYPE_CHECKING:
    from langgraph.graph import StateGraph


class DebateState(TypedDict, total=False):
    """The state every protocol graph carries. ``transcript`` and ``verdicts`` accumulate."""

    question: str
    answers: list[str]
    evidence: str | None
    references: dict[str, str]
    sides: dict[str, int]
    transcript: Annotated[list[Turn], operator.add]
    verdicts: Annotated[list[Verdict], operator.add]
    decision: Decision


class Case(TypedDict, total=False):
    """What a judging seat (a jury subgraph) reads from its parent graph."""

    question: str
    answers: list[str]
    evidence: str | None
    references: dict[str, str]
    sides: dict[str, int]
    transcript: list[Turn]


class Ruling(TypedDict, total=False):
    """What a judging seat hands back: only its own verdicts and decision, so nothing is appended twice."""

    verdicts: list[Verdict]
    decision: Any


def seat_builder() -> StateGraph:
    """A builder for a judging-seat subgraph: reads a ``Case``, returns a ``Ruling``."""
    from langgraph.graph import StateGraph  # imported here: langgraph takes over a second to import

    return StateGraph(DebateState, input_schema=Case, output_schema=Ruling)


@dataclass(frozen=True)
class View:
    """What one agent is shown: the question, the answers, the transcript so far, perhaps the evidence."""

    question: str
    answers: tuple[str, ...]
    transcript: tuple[Turn, ...] = ()
    evidence: str | None = None
    references: dict[str, str] = field(default_factory=dict)  # reference answers by field, for judges that read one

    def rounds_done(self, role: str) -> int:
        """Completed rounds of ``role`` turns (the highest round number seen, 0 before any)."""
        return max((t.round for t in self.transcript if t.role == role), default=0)


class Decider(Protocol):
    """Anything that turns a view into a verdict: a ``Judge``, a ``Juror``, a ``HumanJudge``."""

    name: str

    async def decide(self, seen: View) -> Verdict: ...


def view(state: DebateState, *, evidence: bool, transcript: Sequence[Turn] | None = None) -> View:
    """The view of ``state`` an agent gets; the evidence only when the protocol grants it."""
    return View(
        question=state["question"],
        answers=tuple(state["answers"]),
        transcript=tuple(state.get("transcript", []) if transcript is None else transcript),
        evidence=state.get("evidence") if evidence else None,
        references=dict(state.get("references") or {}),
    )
