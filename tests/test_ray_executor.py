"""The Ray executor gives the records the local executor gives, on a local cluster it starts and on one at an address.

The model is the fake OpenAI-compatible server (``openai:fake@URL``: Ray workers build their backends from the spec,
so the in-process ``hashed:`` backend is not available there). Each test checks that the cluster's processes are
gone afterwards. Run them alone with ``pytest -m ray``; they need ``pip install 'agora[ray]'``.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("ray", reason="the Ray executor needs Ray: pip install 'agora[ray]'")

import ray

from agora.cli import main
from agora.runner.options import Options
from agora.runner.ray import RayPool
from agora.runner.record import Record
from agora.runner.run import Run
from agora.runner.store import RunStore
from agora.scenarios import load_scenario
from tests.conftest import free_port
from tests.fixtures.fake_server import FakeServer
from tests.fixtures.scenarios import numbered_rows, write_scenario

pytestmark = [
    pytest.mark.slow,
    pytest.mark.ray,
    pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="looks for leaked Ray processes in /proc"),
]

N_ITEMS = 8
TASKS_PER_ITEM = 3  # a tournament debate under both assignments of its two models, and direct QA
RAY_START_TIMEOUT = 120.0
GONE_TIMEOUT = 30.0


@pytest.fixture(autouse=True)
def ray_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RAY_ADDRESS", raising=False)  # the executor would join that cluster instead
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    monkeypatch.setenv("AGORA_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """What the run's ``RayPool`` did: seconds to start, tasks per actor, and the pids of the cluster and actors."""
    seen: dict[str, Any] = {"pids": set()}
    init, close = RayPool.__init__, RayPool.aclose

    def timed_init(self: RayPool, *args: Any, **kwargs: Any) -> None:
        start = time.perf_counter()
        init(self, *args, **kwargs)
        seen["start_seconds"] = time.perf_counter() - start
        node = getattr(ray._private.worker, "_global_node", None)  # a cluster this process started: its processes
        for infos in (getattr(node, "all_processes", None) or {}).values():
            seen["pids"] |= {info.process.pid for info in infos}

    async def watched_close(self: RayPool) -> None:
        seen["pids"] |= set(ray.get([a.__ray_call__.remote(lambda worker: os.getpid()) for a in self.actors]))
        await close(self)
        seen["tasks"] = self.tasks

    monkeypatch.setattr(RayPool, "__init__", timed_init)
    monkeypatch.setattr(RayPool, "aclose", watched_close)
    return seen


def scenario_file(tmp_path: Path, url: str) -> Path:
    body = {
        "name": "ray",
        "data": {"loader": "jsonl", "path": "items.jsonl"},
        "models": {"default": f"openai:fake@{url}", "debaters": [f"openai:fake@{url}", f"openai:other@{url}"]},
        "judges": [{"persona": "mainstream"}, {"persona": "skeptical"}],
        "protocols": [{"kind": "debate", "rounds": 1, "swap_sides": True}, {"kind": "direct_qa"}],
        "seed": 7,
        "cache": False,  # a private cache per run: both runs really call the server
        "concurrency": 4,
    }
    return write_scenario(tmp_path, body, numbered_rows(N_ITEMS), name="ray.yaml")


def comparable(records: list[Record]) -> dict[str, dict[str, Any]]:
    return {r.key: r.model_dump(exclude={"seconds", "usage"}) for r in records}


def local_run(path: Path, out: Path, server: FakeServer) -> tuple[dict[str, dict[str, Any]], Counter[str]]:
    """The records of a local run and the requests it made (the server's books are reset after)."""
    the_run = Run.create(load_scenario(path), Options(), out, path)
    asyncio.run(the_run.execute())
    records = list(the_run.store.records())
    the_run.close()
    calls = server.completed_counts()
    server.reset()
    return comparable(records), calls


def check_ray_run(
    out: Path, server: FakeServer, expected: dict[str, dict[str, Any]], calls: Counter[str], seen: dict[str, Any]
) -> None:
    store = RunStore(out)
    try:
        records = list(store.records())
        assert store.manifest()["status"] == "finished" and store.manifest()["options"]["executor"] == "ray"
    finally:
        store.close()
    keys = [r.key for r in records]
    assert len(keys) == N_ITEMS * TASKS_PER_ITEM == len(set(keys))  # every task recorded exactly once
    assert {r.status for r in records} == {"ok"}, [r.error for r in records if r.error]
    assert comparable(records) == expected
    assert server.completed_counts() == calls and sum(calls.values()) > 0  # the actors made the very same calls
    assert sum(seen["tasks"]) == len(keys) and len(seen["tasks"]) == 2 and min(seen["tasks"]) > 0  # both actors


def wait_gone(pids: set[int]) -> set[int]:
    """The pids still running (zombies are gone) after waiting up to ``GONE_TIMEOUT`` s for them to exit."""
    deadline = time.monotonic() + GONE_TIMEOUT
    while True:
        alive = {pid for pid in pids if _running(pid)}
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.2)


def _running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def test_ray_on_a_local_cluster_gives_the_local_records(tmp_path: Path, fake_server: FakeServer, spy) -> None:
    path = scenario_file(tmp_path, fake_server.url)
    expected, calls = local_run(path, tmp_path / "local", fake_server)
    assert not ray.is_initialized()

    the_run = Run.create(load_scenario(path), Options(executor="ray"), tmp_path / "ray", path)
    asyncio.run(the_run.execute())
    the_run.close()

    print(f"ray start (local cluster, 2 actors): {spy['start_seconds']:.1f} s; tasks per actor {spy['tasks']}")
    assert not ray.is_initialized()
    check_ray_run(tmp_path / "ray", fake_server, expected, calls, spy)
    assert len(spy["pids"]) > 2 and not wait_gone(spy["pids"])  # gcs, raylet, ... and the actors: all stopped


@pytest.fixture
def ray_head() -> Iterator[str]:
    """A ``ray start --head`` cluster of 2 CPUs in its own session and temp dir; yields its address, then stops it."""
    port = free_port()
    temp = Path(tempfile.mkdtemp(prefix="agora-ray-", dir="/tmp"))  # short: Ray puts unix sockets under it
    command = [
        str(Path(sys.executable).with_name("ray")), "start", "--head", "--block",
        "--port", str(port), "--num-cpus", "2", "--include-dashboard=false", "--disable-usage-stats",
        "--temp-dir", str(temp),
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    log_file = temp / "ray-start.log"
    start = time.perf_counter()
    with log_file.open("wb") as log:
        head = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True
        )
    try:
        deadline = time.monotonic() + RAY_START_TIMEOUT
        while "Ray runtime started" not in log_file.read_text(errors="replace"):
            if head.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"ray start did not start (code {head.poll()}):\n{log_file.read_text(errors='replace')}")
            time.sleep(0.2)
        print(f"ray start --head: {time.perf_counter() - start:.1f} s")
        yield f"127.0.0.1:{port}"
    finally:
        group = _group(head.pid)  # ray start and what it started: gcs_server, raylet, monitors, workers
        head.send_signal(signal.SIGTERM)  # --block: ray start stops the processes it started
        try:
            head.wait(timeout=GONE_TIMEOUT)
        except subprocess.TimeoutExpired:
            head.kill()
            head.wait()
        left = wait_gone(group | _group(head.pid) | _using(temp))
        for pid in left:
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(temp, ignore_errors=True)
        assert len(group) > 2, f"the head's processes were not found: {sorted(group)}"
        assert not left, f"ray start left processes running: {sorted(left)}"


def _group(pgid: int) -> set[int]:
    """The pids in process group ``pgid``."""
    pids = set()
    for pid in _pids():
        try:
            if os.getpgid(pid) == pgid:
                pids.add(pid)
        except OSError:
            pass
    return pids


def _using(temp: Path) -> set[int]:
    """The pids whose command line names ``temp`` (the head's gcs_server, raylet and helpers do)."""
    pids = set()
    for pid in _pids():
        try:
            if str(temp).encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                pids.add(pid)
        except OSError:
            pass
    return pids


def _pids() -> list[int]:
    return [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()]


def test_ray_at_an_address_gives_the_local_records(tmp_path: Path, fake_server: FakeServer, spy, ray_head) -> None:
    path = scenario_file(tmp_path, fake_server.url)
    expected, calls = local_run(path, tmp_path / "local", fake_server)

    args = ["run", str(path), "--executor", "ray", "--ray-address", ray_head, "--out", str(tmp_path / "ray")]
    args.append("--fresh")  # the local run beside it is identical: without this, its records would be reused
    with pytest.raises(SystemExit) as exit_:
        main(args)
    assert exit_.value.code == 0

    print(f"ray.init --ray-address {ray_head}: {spy['start_seconds']:.1f} s; tasks per actor {spy['tasks']}")
    assert not ray.is_initialized()  # the driver disconnected; the cluster is the fixture's to stop
    check_ray_run(tmp_path / "ray", fake_server, expected, calls, spy)
    assert len(spy["pids"]) == 2 and not wait_gone(spy["pids"])  # the actors were stopped
