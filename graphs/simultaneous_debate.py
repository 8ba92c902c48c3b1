"""Simultaneous debate: both debaters argue at once each round, for three rounds (simultaneous_debate.yaml)."""

from __future__ import annotations

from langgraph.graph.state import CompiledStateGraph

from agora.agents.judge import Judge
from agora.protocols import debate


def build(model: str = "local") -> CompiledStateGraph:
    """The graph of ``simultaneous_debate.yaml``, with every agent on ``model``."""
    return debate([model, model], Judge(model), rounds=3, simultaneous=True)
