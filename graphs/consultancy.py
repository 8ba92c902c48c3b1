"""Consultancy: a seeded consultant argues for two rounds, questioned by the judge between turns (consultancy.yaml)."""

from __future__ import annotations

from langgraph.graph.state import CompiledStateGraph

from agora.agents.judge import Judge
from agora.protocols import consultancy


def build(model: str = "local") -> CompiledStateGraph:
    """The graph of ``consultancy.yaml``, with every agent on ``model``."""
    return consultancy(model, Judge(model), rounds=2, seed=0)
