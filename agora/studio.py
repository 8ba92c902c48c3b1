"""The graphs ``langgraph dev`` serves to LangGraph Studio (see ``langgraph.json``): debate, consultancy, jury QA.

Each is a graph file of ``graphs/`` (``debate.yaml``, ``consultancy.yaml``, ``jury_qa.yaml``) compiled once, when
the server loads this module. ``AGORA_MODEL`` (default ``local``, the embedded model) stands in for the files'
``local``, so ``AGORA_MODEL=openai:gpt-4o-mini langgraph dev`` seats every agent on that model; the agents on
one model share one backend. The server brings its own checkpointer; ``langgraph.json`` sets
``LANGGRAPH_STRICT_MSGPACK=true``, so it loads only the types the graphs' state names (``agora.checkpoint``).
"""

from __future__ import annotations

import functools
import os

from langgraph.graph.state import CompiledStateGraph

from agora.backends import Backend, resolve_model
from agora.checkpoint import keep_allowlist
from agora.graphs import load_graph
from agora.paths import GRAPHS_DIR

MODEL = os.environ.get("AGORA_MODEL") or "local"


@functools.cache
def backend(spec: str) -> Backend:
    """The backend of a graph file's model spec, one per spec; ``local`` means ``MODEL``."""
    return resolve_model(MODEL if spec == "local" else spec)


def build(name: str) -> CompiledStateGraph:
    """The graph of ``graphs/<name>.yaml``, ready for the LangGraph server."""
    return keep_allowlist(load_graph(GRAPHS_DIR / f"{name}.yaml").compile(resolve=backend))


debate = build("debate")
consultancy = build("consultancy")
jury_qa = build("jury_qa")
