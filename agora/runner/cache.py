"""The response cache: completions in SQLite, keyed by model, messages, settings, seed and output schema.

A rerun of a finished scenario is served from here without a model call, and a resumed run re-bills no call
that completed before the crash: each completion is committed as soon as it arrives.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sqlite3
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from agora import meter
from agora.backends.base import Backend, Wrapper
from agora.types import Completion, Message, OutputSchema, Settings

SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    completion TEXT NOT NULL
)
"""


class ResponseCache:
    """A SQLite file of completions, shared by every backend of a run (and by runs, processes and Ray workers)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=60, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(SCHEMA)

    @staticmethod
    def key(model: str, messages: Sequence[Message], settings: Settings, schema: OutputSchema | None) -> str:
        """The cache key of a call; the timeout is transport, not content, and is left out.

        The sha256 of ``json.dumps({"messages", "model", "schema", "settings"}, sort_keys=True)``, written out part by
        part so that a schema's JSON is made once, not once a call (the same bytes, so the same keys as ever).
        """
        parts = (
            ("messages", json.dumps([[m.role, m.content] for m in messages])),
            ("model", json.dumps(model)),
            ("schema", _schema_json(schema)),
            ("settings", json.dumps(_content(settings), sort_keys=True, default=list)),
        )
        text = "{" + ", ".join(f'"{name}": {value}' for name, value in parts) + "}"
        return hashlib.sha256(text.encode()).hexdigest()

    def get(self, key: str) -> Completion | None:
        """The completion stored under ``key``, if any."""
        row = self._db.execute("SELECT completion FROM responses WHERE key = ?", (key,)).fetchone()
        return Completion.model_validate_json(row[0]) if row else None

    def put(self, key: str, completion: Completion) -> None:
        """Store ``completion`` under ``key`` (committed at once)."""
        self._db.execute(
            "INSERT OR REPLACE INTO responses (key, model, completion) VALUES (?, ?, ?)",
            (key, completion.model, completion.model_dump_json()),
        )

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    def close(self) -> None:
        """Close the database."""
        self._db.close()


def _content(settings: Settings) -> dict[str, object]:
    """The settings that shape a reply: all but the timeout."""
    return {f.name: getattr(settings, f.name) for f in dataclasses.fields(settings) if f.name != "timeout"}


@lru_cache(maxsize=256)
def _schema_json(schema: OutputSchema | None) -> str:
    return json.dumps([schema.name, schema.json_schema] if schema else None, sort_keys=True, default=list)


class Cached(Wrapper):
    """Serves a call from ``cache`` when it was made before; otherwise calls ``inner`` and stores the completion."""

    def __init__(self, inner: Backend, cache: ResponseCache) -> None:
        super().__init__(inner)
        self.cache = cache

    async def complete(
        self, messages: Sequence[Message], settings: Settings, schema: OutputSchema | None = None
    ) -> Completion:
        key = self.cache.key(self.spec, messages, settings, schema)
        hit = self.cache.get(key)
        if hit is not None:
            meter.count_cached(hit)
            return hit
        completion = await self.inner.complete(messages, settings, schema)
        self.cache.put(key, completion.model_copy(update={"retries": 0}))
        return completion
