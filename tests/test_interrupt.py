"""Ctrl-C stops a run cleanly: exit 130, the resume command printed, the store consistent and resumable."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from agora.errors import ConfigError
from agora.runner.store import RunStore
from tests.fixtures.fake_server import FakeServer

N_ITEMS = 30


def recorded(out: Path) -> bool:
    """Whether the run in ``out`` has stored a record; a store the run is still making (its file there, its tables
    not yet) has none."""
    try:
        return (out / "run.sqlite").exists() and bool(RunStore(out).counts())
    except ConfigError:
        return False


def test_ctrl_c_stops_cleanly_and_prints_the_resume_command(tmp_path: Path) -> None:
    rows = [{"id": f"q{i}", "question": f"Q{i}?", "answers": ["a", "b"], "gold": i % 2} for i in range(N_ITEMS)]
    (tmp_path / "items.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    with FakeServer(latency=0.2) as server:  # 15 rounds of 2 calls: 3 s, so the interrupt comes mid-run
        scenario = {
            "name": "interrupt",
            "data": {"loader": "jsonl", "path": "items.jsonl"},
            "models": {"default": f"openai:fake@{server.url}"},
            "protocols": [{"kind": "direct_qa"}],
            "concurrency": 2,
        }
        path = tmp_path / "s.yaml"
        path.write_text(yaml.safe_dump(scenario))
        out = tmp_path / "run"
        env = {**os.environ, "AGORA_CACHE_DIR": str(tmp_path / "cache"), "COLUMNS": "200"}
        process = subprocess.Popen(
            [sys.executable, "-m", "agora", "run", str(path), "--out", str(out)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            # Ctrl-C as a terminal sends it, even when this test runs where SIGINT is ignored (a background job)
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        deadline = time.monotonic() + 60
        while not recorded(out):
            assert time.monotonic() < deadline and process.poll() is None, process.communicate()
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
        assert process.returncode == 130, stderr
        assert f"agora resume {out}" in stdout
        store = RunStore(out)
        done = sum(store.counts().values())
        assert 0 < done < N_ITEMS
        assert store.manifest()["status"] == "interrupted"
        assert len((out / "results.jsonl").read_text().splitlines()) == done

        resumed = subprocess.run(
            [sys.executable, "-m", "agora", "resume", str(out)], capture_output=True, text=True, env=env, timeout=120
        )
        assert resumed.returncode == 0, resumed.stderr
        assert RunStore(out).counts() == {"ok": N_ITEMS}
