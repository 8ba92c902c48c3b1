"""Checkpointers for protocol graphs: SQLite on disk, with agora's state types allowed through the serializer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

STATE_TYPES = [("agora.types", name) for name in ("Turn", "Quote", "Verdict", "Usage", "Decision")]
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
