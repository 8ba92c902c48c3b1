"""Courtroom: a trial of the question (the charge) between two advocates, with witnesses who read the evidence.

The prosecution argues answer A and the defence answer B. The trial follows a docket: opening statements; each
witness examined by the prosecution and cross-examined by the defence (``rounds`` questions each); closing
statements; then the judge's seat (a judge, a jury or a cascade) decides from the trial alone. A clerk node routes
each turn to the next speaker on the docket. Only the witnesses read the evidence (and the advocates, when the
protocol grants it); every quote, a witness's or an advocate's, is verified against it. A turn's ``round`` is its
phase: 1 opening, 2 examination, 3 closing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from langgraph.constants import END, START

from agora.agents.debater import Debater
from agora.agents.witness import Witness
from agora.backends import Backend
from agora.errors import ConfigError
from agora.protocols.nodes import Node, fixed_sides, join, sides_node
from agora.protocols.stage import JudgeSeat, add_judge
from agora.quotes import extract_quotes
from agora.state import DebateState, View, view
from agora.types import Message, Turn, user

if TYPE_CHECKING:
    from langgraph.graph import StateGraph
    from langgraph.graph.state import CompiledStateGraph
    from langgraph.types import Checkpointer

Phase = Literal["opening", "direct", "cross", "answer", "closing"]
PHASE_ROUND: dict[Phase, int] = {"opening": 1, "direct": 2, "cross": 2, "answer": 2, "closing": 3}

SYSTEM_PROMPT = (
    "You are an advocate in a trial. The question is the charge, and you argue that the answer you are given is "
    "the correct one, whatever you believe; the other advocate argues for the other answer. Witnesses who have "
    "read the evidence answer the advocates' questions, and a judge who cannot see the evidence decides from the "
    "trial alone. Support claims with exact quotes from the evidence in <quote></quote> tags, such as the passages "
    "the witnesses quoted: every quote is checked against the evidence and the judge is told whether it was "
    "found. Keep each turn under {words} words."
)
USER_PROMPT = "Question:\n{question}\n\n{answers}{evidence}{transcript}\n\nYou are {name}, arguing for Answer {side}."
TASKS: dict[Phase, str] = {
    "opening": "Give your opening statement: what the trial will show.",
    "direct": "Examine {witness}: ask it one question whose answer supports your case.",
    "cross": "Cross-examine {witness}: ask it one question that tests its testimony against your case.",
    "closing": "Give your closing statement, quoting the testimony that supports your answer.",
}


@dataclass(frozen=True)
class Step:
    """One turn on the docket: who speaks, in which phase, and the witness it concerns (examination)."""

    speaker: str
    phase: Phase
    witness: str | None = None


class Advocate(Debater):
    """The prosecution or the defence: a debater with a trial's prompts and a task per phase."""

    def __init__(
        self,
        model: Backend | str,
        *,
        role: Literal["prosecution", "defence"] = "prosecution",
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("system_prompt", SYSTEM_PROMPT)
        kwargs.setdefault("user_prompt", USER_PROMPT)
        super().__init__(model, name=name or role, **kwargs)
        self.role = role

    def step_messages(self, seen: View, side: int, step: Step) -> list[Message]:
        """The prompt for ``step``: the debater's prompt, then the phase's task."""
        messages = self.messages(seen, side, PHASE_ROUND[step.phase])
        task = TASKS[step.phase].format(witness=step.witness)
        return [*messages[:-1], user(f"{messages[-1].content}\n\n{task}")]

    async def plead(self, seen: View, side: int, step: Step) -> str:
        """The text of this advocate's turn on ``step``."""
        completion = await self.model.complete(self.step_messages(seen, side, step), self.settings)
        return completion.text.strip()


def docket(prosecution: str, defence: str, witnesses: Sequence[str], rounds: int) -> list[Step]:
    """The trial's turns in order: openings, each witness's examination and cross-examination, closings."""
    steps = [Step(prosecution, "opening"), Step(defence, "opening")]
    for witness in witnesses:
        for advocate, phase in ((prosecution, "direct"), (defence, "cross")):
            for _ in range(rounds):
                steps += [Step(advocate, phase, witness), Step(witness, "answer", witness)]  # type: ignore[arg-type]
    return [*steps, Step(prosecution, "closing"), Step(defence, "closing")]


def _due(state: DebateState, steps: Sequence[Step]) -> Step:
    """The step the docket is at: one turn per step so far."""
    return steps[len(state.get("transcript", []))]


def advocate_node(agent: Advocate, steps: Sequence[Step], *, sees_evidence: bool = False) -> Node:
    """An advocate's turn on the docket; its quotes are verified against the evidence, whatever it saw."""

    async def plead(state: DebateState) -> dict[str, Any]:
        step = _due(state, steps)
        side = state["sides"][agent.name]
        text = await agent.plead(view(state, evidence=sees_evidence), side, step)
        quotes = extract_quotes(text, state.get("evidence"))
        turn = Turn(
            speaker=agent.name,
            role=agent.role,  # type: ignore[arg-type]
            round=PHASE_ROUND[step.phase],
            text=text,
            side=side,
            quotes=quotes,
        )
        return {"transcript": [turn]}

    return plead


def witness_node(agent: Witness, steps: Sequence[Step]) -> Node:
    """A witness answers the question just put to it, reading the evidence; its quotes are verified."""

    async def testify(state: DebateState) -> dict[str, Any]:
        step = _due(state, steps)
        text = await agent.testify(view(state, evidence=True))
        quotes = extract_quotes(text, state.get("evidence"))
        turn = Turn(speaker=agent.name, role="witness", round=PHASE_ROUND[step.phase], text=text, quotes=quotes)
        return {"transcript": [turn]}

    return testify


def add_docket(builder: StateGraph, clerk: str, steps: Sequence[Step], exit_: str) -> None:
    """The clerk's conditional edge: to the speaker of the next step on the docket, then to ``exit_``."""
    speakers = list(dict.fromkeys(step.speaker for step in steps))

    def route(state: DebateState) -> str:
        done = len(state.get("transcript", []))
        return steps[done].speaker if done < len(steps) else exit_

    builder.add_conditional_edges(clerk, route, [*speakers, exit_])


def courtroom(
    prosecution: Advocate | str,
    defence: Advocate | str,
    witnesses: Sequence[Witness | str],
    judge: JudgeSeat,
    *,
    rounds: int = 1,
    advocates_see_evidence: bool = False,
    checkpointer: Checkpointer = None,
) -> CompiledStateGraph:
    """sides → clerk ⇄ (prosecution, defence, witnesses, on the docket) → judge.

    Args:
        prosecution: the advocate of answer A, or a model spec for one.
        defence: the advocate of answer B, or a model spec for one.
        witnesses: at least one witness (or model spec: ``witness_1``, ``witness_2``...); each reads the evidence.
        judge: the judge's seat: a judge, a ``Jury`` or a ``Cascade``; it never sees the evidence.
        rounds: questions each advocate puts to each witness.
        advocates_see_evidence: show the advocates the evidence too (by default they learn it from the witnesses).
    """
    accuser = prosecution if isinstance(prosecution, Advocate) else Advocate(prosecution, role="prosecution")
    defender = defence if isinstance(defence, Advocate) else Advocate(defence, role="defence")
    called = [w if isinstance(w, Witness) else Witness(w, name=f"witness_{i}") for i, w in enumerate(witnesses, 1)]
    if not called:
        raise ConfigError("courtroom: witnesses: a trial needs at least one witness")
    if rounds < 1:
        raise ConfigError(f"courtroom: rounds must be at least 1, got {rounds}")
    names = [accuser.name, defender.name, *(w.name for w in called)]
    if len(set(names)) != len(names) or {"sides", "clerk", "judge"} & set(names):
        raise ConfigError(f"courtroom: agent names must be unique and not sides, clerk or judge, got {names}")
    steps = docket(accuser.name, defender.name, [w.name for w in called], rounds)

    from langgraph.graph import StateGraph

    builder = StateGraph(DebateState)
    builder.add_node("sides", sides_node(fixed_sides([accuser.name, defender.name])))
    for advocate in (accuser, defender):
        builder.add_node(advocate.name, advocate_node(advocate, steps, sees_evidence=advocates_see_evidence))
        builder.add_edge(advocate.name, "clerk")
    for witness in called:
        builder.add_node(witness.name, witness_node(witness, steps))
        builder.add_edge(witness.name, "clerk")
    builder.add_node("clerk", join)
    add_docket(builder, "clerk", steps, "judge")
    add_judge(builder, judge, sees_evidence=False)
    builder.add_edge(START, "sides")
    builder.add_edge("sides", "clerk")
    builder.add_edge("judge", END)
    return builder.compile(checkpointer=checkpointer, name="courtroom")
