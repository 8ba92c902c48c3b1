"""``agora run`` in a subprocess, stopped from outside: SIGTERM is handled as Ctrl-C is (exit 143), a run killed with
SIGKILL is seen as interrupted, and a second process on the same run directory refuses at once."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agora.errors import ConfigError
from agora.runner.store import RunStore
from tests.fixtures.fake_server import FakeServer
from tests.fixtures.scenarios import numbered_rows, write_scenario

N_ITEMS = 40
DEADLINE = 60.0
LATENCY = 0.05


@pytest.fixture(scope="module")
def server() -> Iterator[FakeServer]:
    with FakeServer(latency=LATENCY) as fake:
        yield fake


@pytest.fixture
def scenario(server: FakeServer, tmp_path: Path) -> Path:
    body = {
        "name": "signals",
        "data": {"loader": "jsonl", "path": "items.jsonl"},
        "models": {"default": f"openai:fake@{server.url}"},
        "protocols": [{"kind": "direct_qa"}],
        "concurrency": 2,
    }
    return write_scenario(tmp_path, body, numbered_rows(N_ITEMS), name="signals.yaml")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "AGORA_CACHE_DIR": str(tmp_path / "cache"), "COLUMNS": "200"}


def start(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "agora", *args]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def agora(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "agora", *args], capture_output=True, text=True, env=env, timeout=120)


def recorded(out: Path) -> int:
    """Records in the store of ``out`` (read-only; 0 while there is none)."""
    store = out / "run.sqlite"
    if not store.exists():
        return 0
    try:
        found = RunStore(out, readonly=True)
    except ConfigError:  # the schema is not there yet
        return 0
    try:
        return sum(found.counts().values())
    finally:
        found.close()


def wait_for_records(process: subprocess.Popen[str], out: Path, n: int = 2) -> None:
    deadline = time.monotonic() + DEADLINE
    while recorded(out) < n:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the run recorded nothing"
        time.sleep(0.02)


def test_sigterm_stops_as_ctrl_c_does_with_exit_143(scenario: Path, env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "run"
    process = start(["run", str(scenario), "--out", str(out)], env)
    wait_for_records(process, out)
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=DEADLINE)
    assert process.returncode == 143, stderr
    assert f"agora resume {out}" in stdout and "Traceback" not in stderr
    store = RunStore(out)
    done = sum(store.counts().values())
    assert 0 < done < N_ITEMS and store.manifest()["status"] == "interrupted"
    lines = (out / "results.jsonl").read_text().splitlines()
    assert len(lines) == done and {json.loads(line)["key"] for line in lines} == {r.key for r in store.records()}
    store.close()

    resumed = agora(["resume", str(out)], env)
    assert resumed.returncode == 0, resumed.stderr
    assert RunStore(out).counts() == {"ok": N_ITEMS}


def test_a_killed_run_is_reported_as_interrupted_and_resumes(
    scenario: Path, env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "run"
    process = start(["run", str(scenario), "--out", str(out)], env)
    wait_for_records(process, out)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=DEADLINE)
    killed = RunStore(out, readonly=True)
    manifest = killed.manifest()
    killed.close()
    assert manifest["status"] == "running"  # nothing said it ended: the process is gone
    assert manifest["pid"] == process.pid and manifest["host"] == socket.gethostname()

    report = agora(["report", str(out)], env)
    assert report.returncode == 0 and "partial run (status interrupted)" in report.stderr, report.stderr
    assert "Partial run: the run was interrupted" in report.stdout

    resumed = agora(["resume", str(out)], env)
    assert resumed.returncode == 0, resumed.stderr
    assert RunStore(out).counts() == {"ok": N_ITEMS}


def test_a_second_process_on_a_running_run_refuses_at_once(
    scenario: Path, env: dict[str, str], tmp_path: Path, server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.reset()
    monkeypatch.setattr(server, "latency", 0.4)  # the run lasts some seconds: time for two more processes to start
    out = tmp_path / "run"
    process = start(["run", str(scenario), "--out", str(out)], env)
    wait_for_records(process, out)

    second = agora(["resume", str(out)], env)
    (line,) = second.stderr.strip().splitlines()
    assert second.returncode == 2, second.stderr
    assert line.startswith(
        f"agora: error: ConfigError: {out}: in use by process {process.pid} on {socket.gethostname()}"
    )

    report = agora(["report", str(out)], env)  # reading a running run is fine
    assert report.returncode == 0 and "partial run (status running)" in report.stderr, report.stderr
    assert process.poll() is None  # the refusal came before the run ended

    _, stderr = process.communicate(timeout=DEADLINE)
    assert process.returncode == 0 and stderr == "", stderr
    store = RunStore(out)
    assert store.counts() == {"ok": N_ITEMS} and store.manifest()["status"] == "finished"
    assert max(server.completed_counts().values()) == 1  # no call was made twice
