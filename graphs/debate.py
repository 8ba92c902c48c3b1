"""Sequential debate: two debaters argue in turn for three rounds, then a skeptical judge decides (debate.yaml)."""

from __future__ import annotations

from langgraph.graph.state import CompiledStateGraph

from agora.agents.judge import Judge
from agora.protocols import debate


def build(model: str = "local") -> CompiledStateGraph:
    """The graph of ``debate.yaml``, with every agent on ``model``."""
    return debate([model, model], Judge(model, "skeptical"), rounds=3)
