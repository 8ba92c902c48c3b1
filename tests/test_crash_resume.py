"""``agora run`` killed (SIGKILL) at random points, then ``agora resume``d: the same results as a run that was never
interrupted, every task recorded once, and no call made again whose reply had reached the response cache.

The runs are subprocesses against the fake OpenAI server of this process, whose replies are a function of the
request: an interrupted run and an uninterrupted one must agree on every decision, verdict and transcript.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from agora.runner.options import Options
from agora.runner.record import Record
from agora.runner.run import Run
from agora.runner.store import RunStore
from agora.scenarios import load_scenario
from tests.fixtures.fake_server import FakeServer, Request
from tests.fixtures.scenarios import numbered_rows, write_scenario

REPO = Path(__file__).resolve().parent.parent
N_ITEMS = 16
PROTOCOLS = ("debate", "direct_qa")
TASKS = N_ITEMS * len(PROTOCOLS)
CONCURRENCY = 2
LATENCY = 0.04  # seconds per call: a run takes a few seconds, time enough to kill it anywhere
IN_FLIGHT = CONCURRENCY * 2  # calls a run may have in flight at once: two judges per task at most
MODEL = "fake"
DEADLINE = 120.0  # seconds a subprocess may take before the test gives up on it


def comparable(records: list[Record]) -> dict[str, dict[str, Any]]:
    return {r.key: r.model_dump(mode="json", exclude={"seconds", "usage"}) for r in records}


@pytest.fixture(scope="module")
def server() -> Iterator[FakeServer]:
    """One server for the module: the reference run and the interrupted ones name the same model and URL."""
    with FakeServer(latency=LATENCY) as fake:
        yield fake


@pytest.fixture(scope="module")
def scenario(server: FakeServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    body = {
        "name": "crash",
        "data": {"loader": "jsonl", "path": "items.jsonl"},
        "models": {"default": f"openai:{MODEL}@{server.url}"},
        "judges": [{"persona": "mainstream"}, {"persona": "skeptical"}],
        "protocols": [{"kind": "debate", "rounds": 1}, {"kind": "direct_qa"}],
        "settings": {"timeout": 30, "max_tokens": 128},
        "concurrency": CONCURRENCY,
    }  # the response cache is the default one: shared, at $AGORA_CACHE_DIR/responses.sqlite
    rows = numbered_rows(N_ITEMS, question="Question {i}: is claim {i} supported?")
    return write_scenario(tmp_path_factory.mktemp("scenario"), body, rows, name="crash.yaml")


@pytest.fixture(scope="module")
def reference(server: FakeServer, scenario: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """An uninterrupted run (in this process, with a cache of its own): its records and the calls it made."""
    directory = tmp_path_factory.mktemp("reference")
    server.reset()
    with mock.patch.dict(os.environ, {"AGORA_CACHE_DIR": str(directory / "cache")}):
        the_run = Run.create(load_scenario(scenario), Options(), directory / "run", scenario)
        asyncio.run(the_run.execute())
    records = list(the_run.store.records())
    the_run.close()
    completed = Counter(r.key for r in calls(server) if r.status == 200)
    assert len(records) == TASKS and set(completed.values()) == {1}
    assert server.totals() == {"ok": len(completed)} and len(calls(server)) == len(completed)
    return {"records": comparable(records), "calls": set(completed)}


def calls(server: FakeServer) -> list[Request]:
    """The server's chat requests for the scenario's model.

    A process killed between a request's headers and its body leaves the server a request with no body, which it
    books (as model ``None``) and answers: not a call the run made, so it is left out.
    """
    return [r for r in server.requests if r.model == MODEL]


def count(database: Path, table: str) -> int:
    """Rows of ``table`` in a SQLite file another process writes (0 while it does not exist yet)."""
    if not database.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10) as db:
            return int(db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
    except sqlite3.OperationalError:  # the schema is not there yet
        return 0


def agora(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "agora", *args], env=env, cwd=log.parent, stdout=out, stderr=subprocess.STDOUT
        )


def kill_when(process: subprocess.Popen[bytes], store: Path, records: int, delay: float, log: Path) -> None:
    """SIGKILL ``process`` ``delay`` seconds after ``store`` holds ``records`` records."""
    deadline = time.monotonic() + DEADLINE
    while count(store, "records") < records:
        if process.poll() is not None:
            pytest.fail(
                f"the run ended (exit {process.returncode}) before it had {records} records:\n{log.read_text()}"
            )
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"the run did not reach {records} records in {DEADLINE:g} s:\n{log.read_text()}")
        time.sleep(0.005)
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=DEADLINE) == -signal.SIGKILL, f"it finished before it was killed:\n{log.read_text()}"


def settle(server: FakeServer) -> None:
    """Wait until the requests a killed process had sent are booked and answered (into the void)."""
    time.sleep(0.2)
    deadline = time.monotonic() + 10
    while server.in_flight and time.monotonic() < deadline:
        time.sleep(0.01)


@pytest.mark.parametrize(
    ("seed", "kills"),
    [(1, [1]), (2, [TASKS // 2]), (3, [TASKS // 5, TASKS // 2])],
    ids=["early", "midway", "twice"],
)
def test_a_killed_run_resumes_to_the_results_of_an_uninterrupted_one(
    seed: int, kills: list[int], server: FakeServer, scenario: Path, reference: dict[str, Any], tmp_path: Path
) -> None:
    rng = random.Random(seed)
    env = {**os.environ, "AGORA_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": str(REPO)}
    env.pop("OPENAI_BASE_URL", None)
    out, cache, log = tmp_path / "run", tmp_path / "cache" / "responses.sqlite", tmp_path / "agora.log"
    server.reset()

    phases: list[list[Request]] = []  # the requests of each process, killed or not
    lost = []  # per kill: calls the server answered whose reply never reached the cache
    seen = 0
    for i, at in enumerate(kills):
        command = ["run", str(scenario), "--out", str(out)] if i == 0 else ["resume", str(out)]
        cached_before = count(cache, "responses")
        kill_when(agora(command, env, log), out / "run.sqlite", at, rng.uniform(0, 0.15), log)
        settle(server)
        phases.append(calls(server)[seen:])
        seen += len(phases[-1])
        assert count(out / "run.sqlite", "records") < TASKS
        killed_store = RunStore(out)
        assert killed_store.manifest()["status"] == "running"  # killed: nothing said that it ended
        killed_store.close()
        answered = {r.key for r in phases[-1] if r.status == 200}
        lost.append(len(answered) - (count(cache, "responses") - cached_before))

    finish = agora(["resume", str(out)], env, log)
    assert finish.wait(timeout=DEADLINE) == 0, log.read_text()
    phases.append(calls(server)[seen:])

    # every task exactly once, the run finished, and the results are those of the uninterrupted run
    store = RunStore(out)
    records = list(store.records())
    assert len(records) == len({r.key for r in records}) == TASKS
    manifest = store.manifest()
    assert manifest["status"] == "finished" and manifest["counts"] == {"ok": TASKS}
    assert comparable(records) == reference["records"]
    lines = (out / "results.jsonl").read_text().splitlines()
    assert sorted(json.loads(line)["key"] for line in lines) == sorted(reference["records"])
    store.close()

    # the same calls as the uninterrupted run; none made twice by one process, and once in all unless its reply
    # was lost with a killed process (in flight, or not yet cached): at most the calls in flight at a kill
    assert server.totals().keys() == {"ok"}
    completed = Counter(r.key for r in calls(server) if r.status == 200)
    assert set(completed) == reference["calls"] and count(cache, "responses") == len(reference["calls"])
    assert all(n == 1 for phase in phases for n in Counter(r.key for r in phase).values())
    assert all(0 <= n <= IN_FLIGHT for n in lost), lost
    assert sum(completed.values()) - len(completed) == sum(lost)
