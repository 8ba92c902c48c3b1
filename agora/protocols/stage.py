"""The judging stage of a protocol: one judge node, or a jury subgraph, under the name ``judge``."""

from __future__ import annotations

from typing import Any

from langgraph.graph import StateGraph

from agora.protocols.jury import Jury
from agora.protocols.nodes import Decider, judge_node

JudgeSeat = Decider | Jury


def add_judge(builder: StateGraph, judge: JudgeSeat, *, sees_evidence: bool) -> None:
    """Add node ``judge``: a single judge's verdict, or a whole jury's verdicts and decision."""
    if isinstance(judge, Jury):
        node: Any = judge.graph(sees_evidence=sees_evidence)
    else:
        node = judge_node(judge, sees_evidence=sees_evidence)
    builder.add_node("judge", node)
