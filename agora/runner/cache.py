"""The response cache: completions in SQLite, keyed by model, messages, settings, seed and output schema.

A rerun of a finished scenario is served from here without a model call, and a resumed run re-bills no call
that completed before the crash: each completion is committed in the turn of the event loop in which it arrived,
together with the others that arrived in that turn (one transaction, not one each: at hundreds of calls in flight,
a turn brings dozens). Until then it is served from the batch.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import sqlite3
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from agora import meter
from agora.backends.base import Backend, Wrapper
from agora.log import get_logger
from agora.types import Completion, Message, OutputSchema, Settings

log = get_logger("agora.cache")

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
        self._batch: dict[str, tuple[str, str]] = {}
        self._failure: sqlite3.Error | None = None

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
            ("settings", _settings_json(settings)),
        )
        text = "{" + ", ".join(f'"{name}": {value}' for name, value in parts) + "}"
        return hashlib.sha256(text.encode()).hexdigest()

    def get(self, key: str) -> Completion | None:
        """The completion stored under ``key``, if any."""
        self._raise_failure()
        if key in self._batch:
            return Completion.model_validate_json(self._batch[key][1])
        row = self._db.execute("SELECT completion FROM responses WHERE key = ?", (key,)).fetchone()
        return Completion.model_validate_json(row[0]) if row else None

    def put(self, key: str, completion: Completion) -> None:
        """Store ``completion`` under ``key``: committed at the end of this turn of the event loop (at once outside
        one)."""
        self._raise_failure()
        if not self._batch:
            try:
                asyncio.get_running_loop().call_soon(self._commit_in_turn)
            except RuntimeError:  # no event loop running: nothing else will come in this turn
                self._batch[key] = (completion.model, completion.model_dump_json())
                self.commit()
                return
        self._batch[key] = (completion.model, completion.model_dump_json())

    def commit(self) -> None:
        """Commit the completions stored since the last commit, in one transaction."""
        if not self._batch:
            return
        rows = [(key, model, body) for key, (model, body) in self._batch.items()]
        self._batch.clear()
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.executemany("INSERT OR REPLACE INTO responses (key, model, completion) VALUES (?, ?, ?)", rows)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def _commit_in_turn(self) -> None:
        """The end-of-turn commit; its failure (a full disk) is raised by the next ``get`` or ``put``, in a task."""
        try:
            self.commit()
        except sqlite3.Error as exc:
            self._failure = exc

    def _raise_failure(self) -> None:
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise failure

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    def close(self) -> None:
        """Commit what is left, then close the database. A commit that fails now (the disk is full, and the run has
        said so already) is logged at info level: the run's records are in its store, and only a later rerun would
        call those models again."""
        try:
            self.commit()
            self._raise_failure()
        except sqlite3.Error as exc:
            log.info("cache.not_committed", path=str(self.path), error=str(exc))
        finally:
            self._db.close()


def _settings_json(settings: Settings) -> str:
    """The JSON of the settings that shape a reply: all but the timeout (made once per distinct settings)."""
    try:
        return _settings_text(settings)
    except TypeError:  # unhashable: a list given where a tuple is typed
        return _settings_text.__wrapped__(settings)


@lru_cache(maxsize=256)
def _settings_text(settings: Settings) -> str:
    content = {f.name: getattr(settings, f.name) for f in dataclasses.fields(settings) if f.name != "timeout"}
    return json.dumps(content, sort_keys=True, default=list)


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
        self.cache.put(key, completion.model_copy(update={"retries": 0}) if completion.retries else completion)
        return completion
