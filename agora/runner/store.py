"""The run store: one SQLite file (WAL) per run directory, with the manifest, the items, the records and the rows
that could not be used. Each record is committed on its own as it completes, so a crash loses only tasks in flight;
a task's key is the primary key, so no task is recorded twice.

A run that executes holds the directory's lock (``run.lock``, ``flock``) for its life, so a second process refuses at
once; the OS releases it when the process ends, ``kill -9`` included. A report opens the store read-only and creates
no file. Every failure is one line naming the file: a full disk is ``NoSpace``, a store that cannot be read or
written a ``ConfigError``.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import socket
import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, TypeVar

from pydantic import BaseModel, ValidationError

from agora.errors import AgoraError, ConfigError, ExecutionError
from agora.items import Item, Malformed
from agora.runner.record import Record

STORE = "run.sqlite"
RESULTS = "results.jsonl"
LOCK = "run.lock"
LOCK_TRIES = 5
M = TypeVar("M", bound=BaseModel)

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
CREATE TABLE IF NOT EXISTS fits (name TEXT PRIMARY KEY, body TEXT NOT NULL);
"""
TABLES = dict(re.findall(r"CREATE TABLE IF NOT EXISTS (\w+) ([^;]*);", SCHEMA))
COPIED = {
    "items": ("id, body", "rowid"),
    "malformed": ("source, reason", "rowid"),
    "records": ("key, item, protocol, status, body", "seq"),
    "fits": ("name, body", "rowid"),
}
"""What ``copy_from`` takes of another store: table → (columns, order)."""


class NoSpace(ExecutionError):
    """The disk under a run's files is full: the run stops, and resumes once there is space again."""


def no_space(exc: BaseException) -> bool:
    """Whether ``exc`` says that the disk (or the quota) is full."""
    if isinstance(exc, sqlite3.Error):
        return "database or disk is full" in str(exc)
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


def storage_error(path: Path, exc: OSError | sqlite3.Error, what: str = "cannot write") -> AgoraError:
    """``exc``, met on ``path``, as one line: ``NoSpace`` for a full disk, else a ``ConfigError`` saying ``what``."""
    reason = exc.strerror if isinstance(exc, OSError) else str(exc)
    return NoSpace(f"{path}: {reason}") if no_space(exc) else ConfigError(f"{path}: {what}: {reason}")


class RunStore:
    """The SQLite store of one run directory.

    Args:
        directory: the run directory.
        create: make the store (the directory must not hold one yet), else open the one there.
        readonly: only read, creating no file, as reports do.
        exclusive: hold the directory's lock until :meth:`close`, as a run that executes does; a ``ConfigError``
            naming the process that holds it already.
    """

    def __init__(
        self, directory: Path, *, create: bool = False, readonly: bool = False, exclusive: bool = False
    ) -> None:
        self.directory = directory
        self.path = directory / STORE
        self._lock: IO[str] | None = None
        self._expect(create)
        try:
            if exclusive:
                self._lock = _lock(directory, create)
                self._expect(create)  # again: another process may have made the store while this one waited
            with self._guard():
                self._db = self._open_readonly() if readonly else self._open(create)
        except BaseException:
            self._unlock()
            raise

    def _expect(self, create: bool) -> None:
        if create and self.path.exists():
            raise ConfigError(f"{self.directory}: already holds a run; resume it with: agora resume {self.directory}")
        if not create and not self.path.is_file():
            raise ConfigError(f"{self.directory}: not a run directory (no {STORE})")

    def _open(self, create: bool) -> sqlite3.Connection:
        if create:
            self._make()
        db = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
        try:
            self._tables(db)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(SCHEMA)
        except BaseException:
            db.close()
            raise
        return db

    def _make(self) -> None:
        """Make the store whole under another name, then rename it into place: a report opening the directory of a
        run that is just starting finds no store yet, or a whole one, never a file without its tables."""
        partial = self.path.with_name(f"{STORE}.partial")
        partial.unlink(missing_ok=True)  # left by a run killed while making it; this one holds the lock
        db = sqlite3.connect(partial, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)
        finally:
            db.close()  # the last connection: SQLite folds the WAL into the file and removes it
        os.replace(partial, self.path)

    def _open_readonly(self) -> sqlite3.Connection:
        """The store, read-only, creating no file.

        With a ``-wal`` file, a process has the store open or was killed with it open: it is read through the WAL,
        whose ``-wal`` and ``-shm`` files exist already. Without one, the store is whole in its file and is read
        as immutable: SQLite would otherwise create the ``-wal`` and ``-shm`` files (and cannot in a read-only
        directory). Tables that a store made by an earlier agora lacks are read as empty (temporary tables).
        """
        immutable = not self.path.with_name(f"{STORE}-wal").exists()
        uri = f"{self.path.absolute().as_uri()}?mode=ro{'&immutable=1' if immutable else ''}"
        db = sqlite3.connect(uri, uri=True, timeout=60, isolation_level=None, check_same_thread=False)
        try:
            found = self._tables(db)
            for name, columns in TABLES.items():
                if name not in found:
                    db.execute(f"CREATE TEMP TABLE {name} {columns}")
        except BaseException:
            db.close()
            raise
        return db

    def _tables(self, db: sqlite3.Connection) -> set[str]:
        """The tables of ``db``, which must be a run store's."""
        found = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "manifest" not in found:
            raise ConfigError(f"{self.path}: not a run store (no manifest table)")
        return found

    @contextmanager
    def _guard(self, writing: bool = False) -> Iterator[None]:
        """SQLite's errors as one line naming the store: ``NoSpace`` for a full disk, else a ``ConfigError``."""
        try:
            yield
        except sqlite3.Error as exc:
            raise storage_error(self.path, exc, "cannot write" if writing else "not a readable run store") from None

    # -- manifest
    def set_manifest(self, **entries: Any) -> None:
        """Set manifest entries (JSON values)."""
        with self._guard(writing=True), self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO manifest (key, value) VALUES (?, ?)",
                [(k, json.dumps(v, default=str)) for k, v in entries.items()],
            )

    def manifest(self) -> dict[str, Any]:
        """Every manifest entry."""
        with self._guard():
            rows = self._db.execute("SELECT key, value FROM manifest").fetchall()
        entries = {}
        for key, value in rows:
            try:
                entries[key] = json.loads(value)
            except ValueError as exc:
                raise ConfigError(f"{self.path}: manifest {key!r} is not JSON: {exc}") from None
        return entries

    # -- items and malformed rows
    def add_item(self, item: Item) -> None:
        """Keep ``item`` (once) for reports that show it."""
        with self._guard(writing=True):
            self._db.execute("INSERT OR IGNORE INTO items (id, body) VALUES (?, ?)", (item.id, item.model_dump_json()))

    def add_malformed(self, row: Malformed) -> None:
        """Keep a row that could not be used, with why."""
        with self._guard(writing=True):
            self._db.execute("INSERT OR IGNORE INTO malformed (source, reason) VALUES (?, ?)", (row.source, row.reason))

    def items(self) -> Iterator[Item]:
        """The items seen so far."""
        with self._guard():
            for item, body in self._db.execute("SELECT id, body FROM items ORDER BY rowid"):
                yield self._parse(Item, body, f"item {item!r}")

    def malformed(self) -> list[Malformed]:
        """The rows that could not be used."""
        with self._guard():
            rows = self._db.execute("SELECT source, reason FROM malformed ORDER BY rowid").fetchall()
        return [Malformed(s, r) for s, r in rows]

    # -- records
    def has(self, key: str) -> bool:
        """Whether the task ``key`` has a record."""
        with self._guard():
            return self._db.execute("SELECT 1 FROM records WHERE key = ?", (key,)).fetchone() is not None

    def put(self, record: Record) -> None:
        """Commit ``record``; a second record for the same task is an error, never a silent overwrite."""
        with self._guard(writing=True):
            try:
                self._db.execute(
                    "INSERT INTO records (key, item, protocol, status, body) VALUES (?, ?, ?, ?, ?)",
                    (record.key, record.item, record.protocol, record.status, record.model_dump_json()),
                )
            except sqlite3.IntegrityError:
                raise ExecutionError(f"{self.path}: task {record.key!r} is already recorded") from None

    def drop_errors(self) -> int:
        """Delete the error records (to run those tasks again); returns how many."""
        with self._guard(writing=True):
            return self._db.execute("DELETE FROM records WHERE status = 'error'").rowcount

    def records(self) -> Iterator[Record]:
        """Every record, in the order they completed."""
        with self._guard():
            for seq, body in self._db.execute("SELECT seq, body FROM records ORDER BY seq"):
                yield self._parse(Record, body, f"record {seq}")

    def _parse(self, model: type[M], body: str, what: str) -> M:
        """``body`` as a ``model``; a ``ConfigError`` naming ``what`` when it is not one."""
        try:
            return model.model_validate_json(body)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise ConfigError(
                f"{self.path}: {what} cannot be read: {where + ': ' if where else ''}{first['msg']}"
            ) from None

    def counts(self) -> dict[str, int]:
        """Records by status."""
        with self._guard():
            return dict(self._db.execute("SELECT status, COUNT(*) FROM records GROUP BY status").fetchall())

    # -- models fitted on the records when the run finishes (agora.aggregation.fitting)
    def put_fits(self, fits: Mapping[str, str]) -> None:
        """Replace every stored fit with ``fits`` (name → JSON), in one transaction."""
        with self._guard(writing=True), self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("DELETE FROM fits")
            self._db.executemany("INSERT INTO fits (name, body) VALUES (?, ?)", fits.items())

    def fits(self) -> dict[str, str]:
        """Every stored fit: name → JSON."""
        with self._guard():
            return dict(self._db.execute("SELECT name, body FROM fits ORDER BY rowid").fetchall())

    def _fitted_decisions(self) -> dict[str, Any]:
        """Task key → the decision a stored fit made for it (JSON)."""
        fitted: dict[str, Any] = {}
        for name, body in self.fits().items():
            try:
                fitted.update(json.loads(body)["decisions"])
            except (ValueError, KeyError, TypeError) as exc:
                raise ConfigError(f"{self.path}: fit {name!r} cannot be read: {exc!r}") from None
        return fitted

    # -- the results of another run (agora.runner.reuse)
    def copy_from(self, other: RunStore) -> None:
        """Copy the items, malformed rows, records (in their order, bodies unchanged) and fits of ``other`` into this
        store, in one transaction: all of them or, on a failure, none."""
        with self._guard(writing=True), self._db:
            self._db.execute("BEGIN IMMEDIATE")
            for table, (columns, order) in COPIED.items():
                marks = ", ".join("?" * len(columns.split(", ")))
                self._db.executemany(
                    f"INSERT INTO {table} ({columns}) VALUES ({marks})",
                    other._rows(f"SELECT {columns} FROM {table} ORDER BY {order}"),
                )

    def _rows(self, query: str) -> Iterator[tuple[Any, ...]]:
        """The rows of ``query``, streamed; a failure to read them names this store."""
        with self._guard():
            yield from self._db.execute(query)

    def export(self) -> Path:
        """Write every record to ``results.jsonl`` beside the store (replacing it atomically); where the run's jury
        was fitted after the run, each line carries its ``fitted_decision`` next to the live ``decision``."""
        target = self.directory / RESULTS
        partial = target.with_suffix(".jsonl.tmp")
        fitted = self._fitted_decisions()
        try:
            with partial.open("w", encoding="utf-8") as file, self._guard():
                for (body,) in self._db.execute("SELECT body FROM records ORDER BY seq"):
                    if fitted:
                        record = json.loads(body)
                        body = json.dumps({**record, "fitted_decision": fitted.get(record["key"])})
                    file.write(body + "\n")
            partial.replace(target)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise storage_error(target, exc) from None
        return target

    def close(self) -> None:
        """Close the database and release the lock, if held."""
        self._db.close()
        self._unlock()

    def _unlock(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None


def _lock(directory: Path, create: bool) -> IO[str]:
    """The open lock file of ``directory``, locked (``flock``) and naming this process."""
    try:
        if create:
            directory.mkdir(parents=True, exist_ok=True)
        file = (directory / LOCK).open("a+", encoding="utf-8")
    except OSError as exc:
        raise storage_error(directory, exc) from None
    if not _flock(file):
        file.seek(0)
        holder = file.read().strip() or "another process"
        file.close()
        raise ConfigError(f"{directory}: in use by {holder}; wait for it to end, or stop it first")
    try:
        file.truncate(0)
        file.write(f"process {os.getpid()} on {socket.gethostname()}\n")
        file.flush()
    except OSError as exc:
        file.close()
        raise storage_error(directory / LOCK, exc) from None
    return file


def _flock(file: IO[str]) -> bool:
    """Take the lock of ``file``, trying a few times over 0.2 s: a report's probe holds it for an instant."""
    for attempt in range(LOCK_TRIES):
        if attempt:
            time.sleep(0.05)
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            pass
    return False


def abandoned(directory: Path, manifest: Mapping[str, Any]) -> bool:
    """Whether a run marked running has lost its process (killed, crashed): the process recorded is not alive on
    this host, or no process holds the run directory's lock."""
    if manifest.get("status") != "running":
        return False
    pid = manifest.get("pid")
    if manifest.get("host") == socket.gethostname() and isinstance(pid, int) and not _alive(pid):
        return True
    return not _locked(directory)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's
        pass
    return True


def _locked(directory: Path) -> bool:
    """Whether a process holds the lock of ``directory``: a probe, which takes a shared lock and drops it at once."""
    try:
        fd = os.open(directory / LOCK, os.O_RDONLY)
    except OSError:  # no lock file: no run of this agora has held it
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
