"""Direct QA: the judge alone, *blind* (question and answers only) or *oracle* (with the evidence)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from langgraph.constants import END, START

from agora.protocols.stage import JudgeSeat, add_judge
from agora.state import DebateState

if TYPE_CHECKING:
    from langgraph.graph.state import CompiledStateGraph
    from langgraph.types import Checkpointer


def direct_qa(judge: JudgeSeat, *, oracle: bool = False, checkpointer: Checkpointer = None) -> CompiledStateGraph:
    """START → judge → END. With ``oracle`` the judge reads the evidence."""
    from langgraph.graph import StateGraph

    builder = StateGraph(DebateState)
    add_judge(builder, judge, sees_evidence=oracle)
    builder.add_edge(START, "judge")
    builder.add_edge("judge", END)
    return builder.compile(checkpointer=checkpointer, name="oracle_qa" if oracle else "blind_qa")
