"""A run with 512 tasks in flight under the common limit of 1,024 open descriptors: it stays under the limit and
meets no connection error (each would be a retry). Each judge has a model of its own, so the run has two clients, each
with a pool of connections."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agora.runner.store import RunStore
from tests.fixtures.fake_server import FakeServer
from tests.fixtures.scenarios import numbered_rows, write_scenario

LIMIT = 1024
CONCURRENCY = 512
N_ITEMS = 700


def soft_limit() -> None:
    """In the child before it runs agora: the soft limit of open descriptors at ``LIMIT``."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (LIMIT, hard))


def descriptors(pid: int) -> int:
    """Open descriptors of process ``pid`` now (0 once it is gone)."""
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except (FileNotFoundError, ProcessLookupError):
        return 0


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counts descriptors in /proc")
def test_512_tasks_in_flight_stay_under_1024_descriptors(tmp_path: Path) -> None:
    with FakeServer(latency=0.2) as server:
        body = {
            "name": "descriptors",
            "data": {"loader": "jsonl", "path": "items.jsonl"},
            "models": {"default": f"openai:fake@{server.url}"},
            "judges": [
                {"persona": "mainstream", "model": f"openai:fake-a@{server.url}"},
                {"persona": "skeptical", "model": f"openai:fake-b@{server.url}"},
            ],
            "protocols": [{"kind": "direct_qa"}],
            "concurrency": CONCURRENCY,
            "cache": False,
        }
        path = write_scenario(tmp_path, body, numbered_rows(N_ITEMS), name="descriptors.yaml")
        out = tmp_path / "run"
        env = {**os.environ, "AGORA_CACHE_DIR": str(tmp_path / "cache")}
        process = subprocess.Popen(
            [sys.executable, "-m", "agora", "run", str(path), "--out", str(out)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            preexec_fn=soft_limit,
        )
        peak = 0
        deadline = time.monotonic() + 300
        while process.poll() is None and time.monotonic() < deadline:
            peak = max(peak, descriptors(process.pid))
            time.sleep(0.01)
        _, stderr = process.communicate(timeout=60)
        assert process.returncode == 0, stderr
        assert server.max_in_flight >= 64  # the run did have many calls in flight
        assert server.totals() == {"ok": 2 * N_ITEMS}  # every call answered once: no connection error, no retry

    store = RunStore(out)
    usage = [r.usage for r in store.records()]
    assert len(usage) == N_ITEMS and sum(u["retries"] + u["failed"] for u in usage) == 0
    assert 0 < peak < LIMIT, peak
