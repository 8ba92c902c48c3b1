"""Blind direct QA judged by three jurors and a majority vote (jury_qa.yaml)."""

from __future__ import annotations

from langgraph.graph.state import CompiledStateGraph

from agora.protocols import Jury, direct_qa


def build(model: str = "local") -> CompiledStateGraph:
    """The graph of ``jury_qa.yaml``, with every juror on ``model``."""
    return direct_qa(Jury([model, model, model], rule="majority"))
