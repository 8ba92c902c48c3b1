"""Courtroom: openings, one witness examined and cross-examined, closings, a skeptical judge (courtroom.yaml)."""

from __future__ import annotations

from langgraph.graph.state import CompiledStateGraph

from agora.agents.judge import Judge
from agora.protocols import courtroom


def build(model: str = "local") -> CompiledStateGraph:
    """The graph of ``courtroom.yaml``, with every agent on ``model``."""
    return courtroom(model, model, [model], Judge(model, "skeptical"), rounds=1)
