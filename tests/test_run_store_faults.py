"""Run stores that are broken, read-only or on a full disk: ``agora report`` and ``agora resume`` say what is wrong in
one line naming the path (never a traceback), a report never writes into the run directory, and a run that meets a
full disk stops, marked interrupted, and resumes once there is space again.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from agora.cli import main
from agora.errors import ExecutionError
from agora.reports import read_run
from agora.runner.cache import ResponseCache
from agora.runner.options import Options
from agora.runner.run import Run
from agora.runner.store import RunStore
from agora.scenarios import load_scenario
from tests.fixtures import hashed
from tests.fixtures.fake_server import FakeServer
from tests.fixtures.scenarios import numbered_rows, write_scenario

N_ITEMS = 6
FULL = "database or disk is full"


@pytest.fixture(autouse=True)
def fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hashed.reset()
    monkeypatch.setenv("AGORA_CACHE_DIR", str(tmp_path / "cache"))


def scenario(directory: Path, model: str = "hashed:m", n_items: int = N_ITEMS, **changes: object) -> Path:
    body = {
        "name": "store",
        "data": {"loader": "jsonl", "path": "items.jsonl"},
        "models": {"default": model},
        "judges": [{"persona": "mainstream"}],
        "protocols": [{"kind": "direct_qa"}],
        "concurrency": 2,
    }
    return write_scenario(directory, body, numbered_rows(n_items), name="store.yaml", **changes)


def make_run(tmp_path: Path, name: str = "run") -> Path:
    """A finished run (in this process, on the ``hashed`` backend)."""
    path = scenario(tmp_path)
    the_run = Run.create(load_scenario(path), Options(), tmp_path / name, path)
    asyncio.run(the_run.execute())
    the_run.close()
    return tmp_path / name


def agora(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run the ``agora`` command in process: exit code, stdout, stderr."""
    with pytest.raises(SystemExit) as exit_:
        main(list(args))
    captured = capsys.readouterr()
    return int(exit_.value.code or 0), captured.out, captured.err


def snapshot(directory: Path) -> dict[str, str]:
    """Every file of ``directory`` with the sha256 of its bytes."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


def sql(store: Path, statements: str, *, keep_wal: bool = False) -> None:
    """Run ``statements`` on ``store`` in another process; with ``keep_wal``, that process dies without closing the
    database, as ``kill -9`` leaves it: the changes are in ``-wal`` (and ``-shm``), not in the database file."""
    code = (
        "import os, sqlite3, sys\n"
        "db = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "db.execute('PRAGMA wal_autocheckpoint=0')\n"
        "db.executescript(sys.argv[2])\n"
        f"os._exit(0) if {keep_wal} else db.close()\n"
    )
    subprocess.run([sys.executable, "-c", code, str(store), statements], check=True)


def truncate(store: Path) -> None:
    with store.open("r+b") as file:
        file.truncate(store.stat().st_size // 2)


BROKEN: dict[str, tuple[Callable[[Path], object], str]] = {
    "empty": (lambda s: s.write_bytes(b""), "{s}: not a run store"),
    "truncated": (truncate, "{s}: not a readable run store: "),
    "garbage": (lambda s: s.write_bytes(os.urandom(40_000)), "{s}: not a readable run store: "),
    "manifest-not-json": (
        lambda s: sql(s, "UPDATE manifest SET value = '{not json' WHERE key = 'scenario'"),
        "{s}: manifest 'scenario' is not JSON: ",
    ),
    "record-body": (
        lambda s: sql(s, "UPDATE records SET body = '{not json' WHERE seq = 3"),
        "{s}: record 3 cannot be read: ",
    ),
}


@pytest.mark.parametrize("command", ["report", "resume"])
@pytest.mark.parametrize("damage", list(BROKEN))
def test_a_broken_store_is_one_line_naming_it_and_exit_2(
    damage: str, command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = make_run(tmp_path)
    store = directory / "run.sqlite"
    spoil, message = BROKEN[damage]
    spoil(store)
    before = snapshot(directory)
    code, _, err = agora(capsys, command, str(directory))
    (line,) = err.strip().splitlines()
    assert code == 2 and line.startswith("agora: error: ConfigError: ") and message.format(s=store) in line, err
    if command == "report":
        assert snapshot(directory) == before  # not a byte written, no file made


def test_a_report_writes_nothing_into_the_run_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    directory = make_run(tmp_path)
    before = snapshot(directory)
    code, out, err = agora(capsys, "report", str(directory))
    assert code == 0 and err == "" and "Headline" in out
    assert snapshot(directory) == before

    sql(directory / "run.sqlite", "DELETE FROM records WHERE seq > 2", keep_wal=True)  # as a killed run leaves it
    before = snapshot(directory)
    assert {"run.sqlite-wal", "run.sqlite-shm"} <= set(before)
    assert len(read_run(directory).records) == 2  # what the -wal says, not the database file alone
    assert set(snapshot(directory)) == set(before) and snapshot(directory)["run.sqlite-wal"] == before["run.sqlite-wal"]


@contextmanager
def read_only(directory: Path) -> Iterator[None]:
    """``directory`` read-only: a read-only bind mount for root (whom permissions do not stop), else permissions."""
    if os.geteuid() != 0:
        modes = {p: p.stat().st_mode for p in [directory, *directory.iterdir()]}
        for p in modes:
            p.chmod(0o555 if p.is_dir() else 0o444)
        try:
            yield
        finally:
            for p, mode in modes.items():
                p.chmod(mode)
        return
    mounted = subprocess.run(["mount", "--bind", str(directory), str(directory)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot bind-mount {directory} read-only: {mounted.stderr.decode().strip()}")
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(directory)], check=True)
        yield
    finally:
        subprocess.run(["umount", "--lazy", str(directory)], check=True)


@pytest.mark.parametrize("killed", [False, True], ids=["finished", "killed"])
def test_a_read_only_run_directory_is_reported_and_resume_says_why_it_cannot(
    killed: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = make_run(tmp_path)
    if killed:
        statements = "UPDATE manifest SET value = '\"running\"' WHERE key = 'status'; DELETE FROM records WHERE seq > 2"
        sql(directory / "run.sqlite", statements, keep_wal=True)
    with read_only(directory):
        code, out, err = agora(capsys, "report", str(directory))
        assert code == 0 and "Headline" in out, err
        assert ("partial run (status interrupted)" in err) == killed
        assert len(read_run(directory).records) == (2 if killed else N_ITEMS)

        code, out, err = agora(capsys, "resume", str(directory))
        (line,) = err.strip().splitlines()
        assert code == 2 and line.startswith(f"agora: error: ConfigError: {directory}: cannot write"), err


def test_a_response_cache_that_is_not_sqlite_is_one_line_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = tmp_path / "cache.sqlite"
    cache.write_bytes(os.urandom(40_000))
    path = scenario(tmp_path, cache=str(cache))
    code, _, err = agora(capsys, "run", str(path), "--out", str(tmp_path / "run"))
    (line,) = err.strip().splitlines()
    assert code == 2 and line.startswith(f"agora: error: ConfigError: {cache}: cannot open the response cache: "), err


# -- a full disk


class FillsUp:
    """The store's connection, except that record inserts fail after ``room`` of them, as on a full disk."""

    def __init__(self, db: sqlite3.Connection, room: int) -> None:
        self.db, self.room = db, room

    def execute(self, statement: str, *args: object) -> sqlite3.Cursor:
        if statement.startswith("INSERT INTO records"):
            if self.room == 0:
                raise sqlite3.OperationalError(FULL)
            self.room -= 1
        return self.db.execute(statement, *args)

    def __getattr__(self, name: str) -> object:
        return getattr(self.db, name)

    def __enter__(self) -> sqlite3.Connection:
        return self.db.__enter__()

    def __exit__(self, *exc: object) -> None:
        self.db.__exit__(*exc)


def test_a_full_disk_stops_the_run_marked_interrupted_and_resume_finishes_it(tmp_path: Path) -> None:
    path = scenario(tmp_path, n_items=12)
    the_run = Run.create(load_scenario(path), Options(), tmp_path / "run", path)
    the_run.store._db = FillsUp(the_run.store._db, room=4)  # type: ignore[assignment]
    with pytest.raises(ExecutionError, match=f"^{tmp_path / 'run' / 'run.sqlite'}: {FULL}$"):
        asyncio.run(the_run.execute())
    the_run.close()
    store = RunStore(tmp_path / "run")
    assert store.manifest()["status"] == "interrupted" and store.counts() == {"ok": 4}
    assert len((tmp_path / "run" / "results.jsonl").read_text().splitlines()) == 4
    store.close()

    resumed = Run.open(tmp_path / "run")
    asyncio.run(resumed.execute())
    assert resumed.store.counts() == {"ok": 12} and resumed.store.manifest()["status"] == "finished"
    resumed.close()


def test_a_full_disk_under_the_response_cache_is_no_error_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = scenario(tmp_path, n_items=12)
    cache_put = ResponseCache.put
    puts = []

    def fills_up(cache: ResponseCache, key: str, completion: object) -> None:
        puts.append(key)
        if len(puts) > 4:
            raise sqlite3.OperationalError(FULL)
        cache_put(cache, key, completion)  # type: ignore[arg-type]

    monkeypatch.setattr(ResponseCache, "put", fills_up)
    the_run = Run.create(load_scenario(path), Options(), tmp_path / "run", path)
    with pytest.raises(ExecutionError, match=f"responses.sqlite: {FULL}"):
        asyncio.run(the_run.execute())
    assert the_run.store.counts() == {"ok": 4}  # the tasks that met the full disk are not recorded as failed
    assert the_run.store.manifest()["status"] == "interrupted"
    the_run.close()


@contextmanager
def small_disk(directory: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted on ``directory`` (root only)."""
    directory.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(directory)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {mounted.stderr.decode().strip()}")
    try:
        yield directory
    finally:
        subprocess.run(["umount", "--lazy", str(directory)], check=True)


def test_a_run_on_a_disk_that_fills_up_says_so_in_one_line_and_resumes(tmp_path: Path) -> None:
    n_items = 40
    with FakeServer(latency=0.01) as server, small_disk(tmp_path / "disk", "8m") as disk:
        path = scenario(tmp_path, model=f"openai:fake@{server.url}", n_items=n_items)
        env = {**os.environ, "AGORA_CACHE_DIR": str(disk / "cache"), "COLUMNS": "200"}
        out = disk / "run"
        ballast = disk / "ballast"
        free = shutil.disk_usage(disk).free
        ballast.write_bytes(b"\0" * (free - 600_000))  # room to start, and for some records
        command = [sys.executable, "-m", "agora", "run", str(path), "--out", str(out)]
        full = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
        (line,) = full.stderr.strip().splitlines()
        assert full.returncode == 1 and line.startswith("agora: error: NoSpace: "), full.stderr
        assert line.endswith(f"; the run stopped: free space, then: agora resume {out}"), line
        assert "database or disk is full" in line or "No space left on device" in line, line
        first = RunStore(out)
        assert first.counts().get("error", 0) == 0 and sum(first.counts().values()) < n_items
        first.close()

        ballast.unlink()
        resumed = subprocess.run(
            [sys.executable, "-m", "agora", "resume", str(out)], capture_output=True, text=True, env=env, timeout=120
        )
        assert resumed.returncode == 0, resumed.stderr
        store = RunStore(out)
        assert store.counts() == {"ok": n_items} and store.manifest()["status"] == "finished"
        store.close()


def test_a_new_store_appears_whole_under_its_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    directory = tmp_path / "run"
    directory.mkdir()
    (directory / "run.sqlite.partial").write_bytes(b"left by a run killed while making its store")
    seen: list[tuple[bool, set[str]]] = []
    replace = os.replace

    def watched(source: Path, target: Path) -> None:  # what a report opening the directory now would find
        db = sqlite3.connect(source)
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        db.close()
        seen.append((Path(target).exists(), tables))
        replace(source, target)

    monkeypatch.setattr("agora.runner.store.os.replace", watched)
    store = RunStore(directory, create=True, exclusive=True)
    store.set_manifest(scenario="s")
    store.close()
    ((existed, tables),) = seen
    assert not existed and {"manifest", "records"} <= tables  # no store, then a whole one
    assert sorted(p.name for p in directory.iterdir() if p.name.startswith("run.sqlite")) == ["run.sqlite"]
    assert RunStore(directory, readonly=True).manifest() == {"scenario": "s"}
