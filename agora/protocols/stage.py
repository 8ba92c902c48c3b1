"""The judging stage of a protocol: one judge node, or a jury or cascade subgraph, under the name ``judge``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agora.protocols.cascade import Cascade
from agora.protocols.jury import Jury
from agora.protocols.nodes import Decider, judge_node

if TYPE_CHECKING:
    from langgraph.graph import StateGraph

JudgeSeat = Decider | Jury | Cascade


def add_judge(builder: StateGraph, judge: JudgeSeat, *, sees_evidence: bool) -> None:
    """Add node ``judge``: a single judge's verdict, or a whole jury's (or cascade's) verdicts and decision."""
    if isinstance(judge, Jury | Cascade):
        node: Any = judge.graph(sees_evidence=sees_evidence)
    else:
        node = judge_node(judge, sees_evidence=sees_evidence)
    builder.add_node("judge", node)
