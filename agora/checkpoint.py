"""Checkpointers for protocol graphs: SQLite on disk, with agora's state types allowed through the serializer.

LangGraph loads a checkpointed object only if its type is allowed: ``LANGGRAPH_STRICT_MSGPACK=true`` blocks any
other (it comes back a dict), the default lets it through with a warning. Two lists allow agora's types:
``serializer()`` names them for the checkpointers agora builds, and under strict mode LangGraph derives the same
list from each graph's state schema when it compiles the graph. ``keep_allowlist`` keeps the derived list on the
copies the LangGraph server makes (``langgraph dev``, ``agora.studio``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.graph.state import CompiledStateGraph
from typing_extensions import Self

from agora.types import PERSISTED

STATE_TYPES = [(t.__module__, t.__name__) for t in PERSISTED]
STATE_TYPES += [("agora.protocols.jury", "Critique")]


def serializer() -> JsonPlusSerializer:
    """LangGraph's serializer, told that agora's persisted state types are safe to load."""
    return JsonPlusSerializer(allowed_msgpack_modules=STATE_TYPES)


@asynccontextmanager
async def sqlite_checkpointer(path: str | Path) -> AsyncIterator[AsyncSqliteSaver]:
    """An ``AsyncSqliteSaver`` on ``path``: a graph compiled with it resumes after a crash or an interrupt."""
    import aiosqlite

    conn = await aiosqlite.connect(str(path))
    try:
        saver = AsyncSqliteSaver(conn, serde=serializer())
        await saver.setup()
        yield saver
    finally:
        await conn.close()


class AllowlistKeeper(CompiledStateGraph):
    """A compiled graph whose copies keep the types LangGraph allowed its checkpointer to load.

    ``Pregel.copy`` (langgraph 1.2.24) drops the list, and the LangGraph server copies a graph to attach its own
    checkpointer to every run, so under strict mode a resumed thread would read agora's state types as dicts.
    """

    def copy(self, update: dict[str, Any] | None = None) -> Self:
        """A copy with ``update`` applied and the allowlist kept."""
        clone = super().copy(update)
        clone._serde_allowlist = self._serde_allowlist
        return clone


def keep_allowlist(graph: CompiledStateGraph) -> CompiledStateGraph:
    """``graph``, made (in place) to keep its checkpointer allowlist on copies: for graphs a LangGraph server runs."""
    graph.__class__ = AllowlistKeeper
    return graph
