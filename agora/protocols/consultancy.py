"""Consultancy: one consultant argues a side drawn at random (seeded), the judge may question it each round.

Open consultancy lets the consultant choose the side it argues.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from langgraph.constants import END, START

from agora.agents.consultant import Consultant
from agora.errors import ConfigError
from agora.protocols.nodes import (
    add_loop,
    fixed_sides,
    open_sides,
    question_node,
    seeded_sides,
    sides_node,
    speaker_node,
)
from agora.protocols.stage import JudgeSeat, add_judge
from agora.state import DebateState

if TYPE_CHECKING:
    from langgraph.graph.state import CompiledStateGraph
    from langgraph.types import Checkpointer


def consultancy(
    consultant: Consultant | str,
    judge: JudgeSeat,
    *,
    rounds: int = 2,
    seed: int = 0,
    open: bool = False,
    judge_questions: bool = True,
    side: int | None = None,
    checkpointer: Checkpointer = None,
) -> CompiledStateGraph:
    """sides → consultant ⇄ judge_question (``rounds`` turns) → judge.

    Args:
        consultant: the consultant, or a model spec for one.
        judge: the judge (anything with ``decide``; ``ask`` too when ``judge_questions``) or a ``Jury``.
        rounds: consultant turns.
        seed: draws the consultant's side per question.
        open: the consultant chooses its side instead.
        judge_questions: the judge asks a question between turns.
        side: the answer the consultant argues on every item, instead of a drawn one.
    """
    agent = consultant if isinstance(consultant, Consultant) else Consultant(consultant)
    if rounds < 1:
        raise ConfigError(f"consultancy: rounds must be at least 1, got {rounds}")
    if judge_questions and not hasattr(judge, "ask"):
        raise ConfigError(f"consultancy: judge {type(judge).__name__} cannot ask questions; set judge_questions=False")

    if open and side is not None:
        raise ConfigError("consultancy: an open consultant chooses its side; give side or open, not both")
    if open:
        assign = open_sides([agent])
    else:
        assign = seeded_sides([agent.name], seed) if side is None else fixed_sides([agent.name], [side])

    from langgraph.graph import StateGraph

    builder = StateGraph(DebateState)
    builder.add_node("sides", sides_node(assign))
    builder.add_node(agent.name, speaker_node(agent))
    add_judge(builder, judge, sees_evidence=False)
    builder.add_edge(START, "sides")
    builder.add_edge("sides", agent.name)
    again = "judge_question" if judge_questions else agent.name
    if judge_questions:
        builder.add_node("judge_question", question_node(judge, agent.name))
        builder.add_edge("judge_question", agent.name)
    add_loop(builder, agent.name, [agent.name], rounds, again, "judge")
    builder.add_edge("judge", END)
    return builder.compile(checkpointer=checkpointer, name="open_consultancy" if open else "consultancy")
