"""A whole run against the fake OpenAI server with faults injected: rate limits, server errors, hung calls,
malformed JSON. Every task still ends in exactly one record, and the records' usage agrees with the server's books.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from agora.runner.options import Options
from agora.runner.record import Record
from agora.runner.run import Run
from agora.scenarios import load_scenario
from tests.fixtures.fake_server import FakeServer, Fault
from tests.fixtures.scenarios import numbered_rows, write_scenario

N_ITEMS = 20
PROTOCOLS = ("debate", "direct_qa")
HANG = 60.0  # seconds a hung call is held by the server: far longer than the run may take
TIMEOUT = 3.0  # the per-call timeout: short, but well above the stalls of a loaded machine
JURY_FAILS = "JURYFAIL"  # every judge call on this item fails for good: the seat cannot decide
DEBATER_FAILS = "ARGUEFAIL"  # every debater call on this item fails for good: the debate task fails


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGORA_CACHE_DIR", str(tmp_path / "cache"))


def scenario_file(tmp_path: Path, url: str, n_items: int = N_ITEMS, **changes: Any) -> Path:
    rows = numbered_rows(n_items, question="Question {i}: is claim {i} supported?")
    rows[3]["question"] = f"{JURY_FAILS}: is claim 3 supported?"
    rows[7]["question"] = f"{DEBATER_FAILS}: is claim 7 supported?"
    body = {
        "name": "faults",
        "data": {"loader": "jsonl", "path": "items.jsonl"},
        "models": {"default": f"openai:fake@{url}"},
        "judges": [{"persona": "mainstream"}, {"persona": "skeptical"}],
        "protocols": [{"kind": "debate", "rounds": 1}, {"kind": "direct_qa"}],
        "settings": {"timeout": TIMEOUT, "max_tokens": 128},
        "retry": {"max_retries": 3, "base_delay": 0.01, "max_delay": 0.2},
        "concurrency": 8,
        "cache": False,
    }
    return write_scenario(tmp_path, body, rows, name="faults.yaml", **changes)


def run(path: Path, out: Path) -> tuple[Run, float]:
    the_run = Run.create(load_scenario(path), Options(), out, path)
    start = time.monotonic()
    asyncio.run(the_run.execute())
    return the_run, time.monotonic() - start


def text(body: dict[str, Any]) -> str:
    return "\n".join(str(m.get("content") or "") for m in body.get("messages", []))


def judging(body: dict[str, Any]) -> bool:
    """Whether a request asks for a verdict (JSON): debaters ask for text."""
    return "response_format" in body


def reask(body: dict[str, Any]) -> bool:
    """Whether a request re-asks after a reply that was not valid JSON."""
    return "That reply was not valid" in str(body["messages"][-1].get("content"))


def share(body: dict[str, Any], salt: str) -> float:
    """A number in [0, 1) from the request's messages: chooses requests by content, reproducibly."""
    digest = hashlib.sha256((salt + json.dumps(body.get("messages"), sort_keys=True)).encode()).hexdigest()
    return int(digest[:8], 16) / 2**32


def test_faults_end_in_records_that_agree_with_the_server_books(tmp_path: Path, fake_server: FakeServer) -> None:
    bodies: list[dict[str, Any]] = []
    lock = threading.Lock()

    def spy(body: dict[str, Any]) -> bool:  # never chooses: sees every attempt (it comes first)
        with lock:
            bodies.append(body)
        return False

    fake_server.faults = [
        Fault("500", match=spy),
        Fault("429", fraction=0.2, seed=1, retry_after=0.02),
        Fault("500", fraction=0.2, seed=2),
        # judges are asked in parallel: a task meets one timeout at most, and the test stays short
        Fault("hang", hang=HANG, match=lambda b: judging(b) and not reask(b) and share(b, "hang") < 0.1),
        Fault("500", times=10, match=lambda b: judging(b) and JURY_FAILS in text(b)),
        Fault("500", times=10, match=lambda b: not judging(b) and DEBATER_FAILS in text(b)),
        Fault("malformed", match=lambda b: judging(b) and not reask(b) and share(b, "malformed") < 0.2),
    ]
    the_run, seconds = run(scenario_file(tmp_path, fake_server.url), tmp_path / "run")
    records = list(the_run.store.records())
    by_key = {r.key: r for r in records}
    totals = fake_server.totals()

    # every task exactly once, in the store and in results.jsonl
    expected = {f"{p}/q{i}" for p in PROTOCOLS for i in range(N_ITEMS)}
    assert len(records) == len(by_key) == len(expected) and set(by_key) == expected
    lines = (tmp_path / "run" / "results.jsonl").read_text().splitlines()
    assert sorted(json.loads(line)["key"] for line in lines) == sorted(expected)
    manifest = the_run.store.manifest()
    assert manifest["status"] == "finished" and manifest["counts"] == {"ok": 2 * N_ITEMS - 1, "error": 1}

    # every fault was met
    assert all(totals[kind] > 0 for kind in ("429", "500", "hang", "malformed")), totals

    # a debater call beyond its retries fails the debate task: an explicit error record, nothing else in it
    failed = by_key["debate/q7"]
    assert failed.status == "error" and failed.decision is None and not failed.verdicts
    assert failed.error is not None and failed.error.startswith("BackendUnavailable: ") and "HTTP 500" in failed.error
    assert failed.usage["failed"] == 1 and failed.usage["retries"] >= 3
    assert by_key["direct_qa/q7"].status == "ok"  # the judges of that item were fine

    # judge calls beyond their retries: each judge abstains with the error, and the seat says it cannot decide
    for key in ("debate/q3", "direct_qa/q3"):
        undecided = by_key[key]
        assert undecided.status == "ok" and undecided.decision is not None
        assert undecided.decision.outcome == "inconclusive" and len(undecided.decision.abstained) == 2
        assert len(undecided.verdicts) == 2 and undecided.usage["failed"] == 2
        for verdict in undecided.verdicts:
            assert verdict.abstained and verdict.choice is None
            assert verdict.error is not None and verdict.error.startswith("BackendUnavailable: ")

    # everything else was saved by retries and re-asks
    fine = [r for r in records if r.key not in ("debate/q7", "debate/q3", "direct_qa/q3")]
    for record in fine:
        assert record.status == "ok" and record.error is None and record.usage["failed"] == 0, record.key
        assert record.decision is not None and not record.decision.abstained, record.key  # a 1-1 split may tie
        assert sum(record.decision.votes) == 2 and all(v.choice in (0, 1) for v in record.verdicts), record.key
        assert all(v.error is None for v in record.verdicts), record.key
    assert sum(r.usage["retries"] for r in fine) > 0

    # the records' usage is the server's books: each 200 a call, each fault a retry unless the call gave up on it
    usage = {name: sum(r.usage.get(name, 0) for r in records) for name in ("calls", "retries", "failed")}
    assert usage["failed"] == 1 + 4
    assert usage["calls"] == fake_server.by_status()[200] == totals["ok"] + totals["malformed"]
    assert usage["retries"] == totals["429"] + totals["500"] + totals["hang"] - usage["failed"], (usage, dict(totals))
    assert usage["calls"] + usage["retries"] + usage["failed"] == len(fake_server.requests)
    assert max(fake_server.completed_counts().values()) == 1  # no call was answered twice

    # each malformed reply was re-asked (with the bad reply and the error) and the re-ask was answered
    reasks = {json.dumps(b, sort_keys=True) for b in bodies if reask(b)}
    assert len(reasks) == totals["malformed"]
    assert all("the fake server cut this reply short" in json.loads(b)["messages"][-2]["content"] for b in reasks)

    # hung calls timed out and were retried: none held the run (each hang alone would outlast it)
    assert seconds < HANG, f"{seconds:.1f} s with {totals['hang']} hung calls"
    assert min(r.seconds for r in records) < TIMEOUT


def run_tasks(tmp_path: Path, server: FakeServer, name: str, **changes: Any) -> list[Record]:
    directory = tmp_path / name
    directory.mkdir()
    the_run, _ = run(scenario_file(directory, server.url, n_items=8, **changes), directory / "run")
    return list(the_run.store.records())


def test_provider_limits_of_the_scenario_bound_the_calls_in_flight(tmp_path: Path, fake_server: FakeServer) -> None:
    fake_server.faults = [Fault("500", times=10, match=lambda b: JURY_FAILS in text(b) or DEBATER_FAILS in text(b))]
    fake_server.latency = 0.03
    records = run_tasks(tmp_path, fake_server, "limited", concurrency=8, limits={"openai": {"concurrency": 2}})
    assert len(records) == 16 and fake_server.totals()["ok"] > 16
    assert fake_server.max_in_flight == 2  # eight tasks at once, but the provider's two calls in flight

    fake_server.reset()
    records = run_tasks(tmp_path, fake_server, "unlimited", concurrency=8)
    assert len(records) == 16
    assert fake_server.max_in_flight > 2  # the limit, not the scenario, held them to two
