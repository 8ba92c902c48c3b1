"""The run store: one SQLite file (WAL) per run directory, with the manifest, the items, the records and the rows
that could not be used. Each record is committed on its own as it completes, so a crash loses only tasks in flight;
a task's key is the primary key, so no task is recorded twice.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from agora.errors import ConfigError, ExecutionError
from agora.items import Item, Malformed
from agora.runner.record import Record

STORE = "run.sqlite"
RESULTS = "results.jsonl"

SCHEMA = """
CREATE TABLE IF NOT EXISTS manifest (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (id TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    item TEXT NOT NULL,
    protocol TEXT NOT NULL,
    status TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS malformed (source TEXT PRIMARY KEY, reason TEXT NOT NULL);
"""


class RunStore:
    """The SQLite store of one run directory."""

    def __init__(self, directory: Path, *, create: bool = False) -> None:
        self.directory = directory
        self.path = directory / STORE
        if not create and not self.path.is_file():
            raise ConfigError(f"{directory}: not a run directory (no {STORE})")
        directory.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)

    # -- manifest
    def set_manifest(self, **entries: Any) -> None:
        """Set manifest entries (JSON values)."""
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO manifest (key, value) VALUES (?, ?)",
                [(k, json.dumps(v, default=str)) for k, v in entries.items()],
            )

    def manifest(self) -> dict[str, Any]:
        """Every manifest entry."""
        return {k: json.loads(v) for k, v in self._db.execute("SELECT key, value FROM manifest")}

    # -- items and malformed rows
    def add_item(self, item: Item) -> None:
        """Keep ``item`` (once) for reports that show it."""
        self._db.execute("INSERT OR IGNORE INTO items (id, body) VALUES (?, ?)", (item.id, item.model_dump_json()))

    def add_malformed(self, row: Malformed) -> None:
        """Keep a row that could not be used, with why."""
        self._db.execute("INSERT OR IGNORE INTO malformed (source, reason) VALUES (?, ?)", (row.source, row.reason))

    def items(self) -> Iterator[Item]:
        """The items seen so far."""
        for (body,) in self._db.execute("SELECT body FROM items ORDER BY rowid"):
            yield Item.model_validate_json(body)

    def malformed(self) -> list[Malformed]:
        """The rows that could not be used."""
        return [Malformed(s, r) for s, r in self._db.execute("SELECT source, reason FROM malformed ORDER BY rowid")]

    # -- records
    def has(self, key: str) -> bool:
        """Whether the task ``key`` has a record."""
        return self._db.execute("SELECT 1 FROM records WHERE key = ?", (key,)).fetchone() is not None

    def put(self, record: Record) -> None:
        """Commit ``record``; a second record for the same task is an error, never a silent overwrite."""
        try:
            self._db.execute(
                "INSERT INTO records (key, item, protocol, status, body) VALUES (?, ?, ?, ?, ?)",
                (record.key, record.item, record.protocol, record.status, record.model_dump_json()),
            )
        except sqlite3.IntegrityError:
            raise ExecutionError(f"{self.path}: task {record.key!r} is already recorded") from None

    def drop_errors(self) -> int:
        """Delete the error records (to run those tasks again); returns how many."""
        return self._db.execute("DELETE FROM records WHERE status = 'error'").rowcount

    def records(self) -> Iterator[Record]:
        """Every record, in the order they completed."""
        for (body,) in self._db.execute("SELECT body FROM records ORDER BY seq"):
            yield Record.model_validate_json(body)

    def counts(self) -> dict[str, int]:
        """Records by status."""
        return dict(self._db.execute("SELECT status, COUNT(*) FROM records GROUP BY status").fetchall())

    def export(self) -> Path:
        """Write every record to ``results.jsonl`` beside the store (replacing it atomically)."""
        target = self.directory / RESULTS
        partial = target.with_suffix(".jsonl.tmp")
        with partial.open("w", encoding="utf-8") as file:
            for (body,) in self._db.execute("SELECT body FROM records ORDER BY seq"):
                file.write(body + "\n")
        partial.replace(target)
        return target

    def close(self) -> None:
        """Close the database."""
        self._db.close()
