"""Debate: two or more debaters argue assigned answers for N rounds, sequential or simultaneous, then a judge.

Open debate lets the first debater choose the answer it defends; the others take the remaining answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import TYPE_CHECKING

from langgraph.constants import END, START

from agora.agents.debater import Debater
from agora.errors import ConfigError
from agora.protocols.nodes import add_loop, fixed_sides, join, open_sides, sides_node, speaker_node
from agora.protocols.stage import JudgeSeat, add_judge
from agora.state import DebateState
from agora.transcript import LABELS

if TYPE_CHECKING:
    from langgraph.graph.state import CompiledStateGraph
    from langgraph.types import Checkpointer


def debaters_from(debaters: Sequence[Debater | str]) -> list[Debater]:
    """Debater objects; spec strings become ``debater_a``, ``debater_b``..."""
    agents = [
        d if isinstance(d, Debater) else Debater(d, name=f"debater_{LABELS[i].lower()}") for i, d in enumerate(debaters)
    ]
    names = [a.name for a in agents]
    if len(agents) < 2:
        raise ConfigError(f"debate needs at least two debaters, got {len(agents)}")
    if len(set(names)) != len(names):
        raise ConfigError(f"debate: debater names must be unique, got {names}")
    return agents


def debate(
    debaters: Sequence[Debater | str],
    judge: JudgeSeat,
    *,
    rounds: int = 3,
    simultaneous: bool = False,
    open: bool = False,
    sides: Sequence[int] | None = None,
    checkpointer: Checkpointer = None,
) -> CompiledStateGraph:
    """sides → debaters (in turn, or all at once per round) × ``rounds`` → judge.

    Debater ``i`` argues answer ``sides[i]``, by default answer ``i`` (with ``open``, the first debater chooses and
    the others take the rest in order). The judge never sees the evidence; debaters do, and their quotes are
    verified against it.
    """
    agents = debaters_from(debaters)
    names = [a.name for a in agents]
    if rounds < 1:
        raise ConfigError(f"debate: rounds must be at least 1, got {rounds}")

    if open and sides is not None:
        raise ConfigError("debate: open debaters choose their sides; give sides or open, not both")
    assign = open_sides(agents) if open else fixed_sides(names, sides)

    from langgraph.graph import StateGraph

    builder = StateGraph(DebateState)
    builder.add_node("sides", sides_node(assign))
    for agent in agents:
        builder.add_node(agent.name, speaker_node(agent, simultaneous=simultaneous))
    add_judge(builder, judge, sees_evidence=False)
    builder.add_edge(START, "sides")
    if simultaneous:
        builder.add_node("round_end", join)
        for name in names:
            builder.add_edge("sides", name)
        builder.add_edge(names, "round_end")
        add_loop(builder, "round_end", names, rounds, names, "judge")
    else:
        builder.add_edge("sides", names[0])
        for a, b in pairwise(names):
            builder.add_edge(a, b)
        add_loop(builder, names[-1], names, rounds, names[0], "judge")
    builder.add_edge("judge", END)
    kind = ("open_" if open else "") + ("simultaneous_debate" if simultaneous else "debate")
    return builder.compile(checkpointer=checkpointer, name=kind)
