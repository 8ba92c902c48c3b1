"""Faults injected by the fake OpenAI server, met through agora's ``openai:`` backend by each of its transports.

Every test checks the server's books against what agora saw: each request the server answered is a call, a
retry or a re-ask on agora's side, and nothing else.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
import pytest_asyncio

from agora.agents.judge import Judge
from agora.backends import Backend, Retrying, RetryPolicy, resolve_model
from agora.errors import BackendTimeout, BackendUnavailable
from agora.meter import Meter, metering
from agora.methods.form import verdict_schema
from agora.structured import ask_structured
from agora.types import Settings, user
from tests.fixtures.fake_server import FakeServer, Fault, request_key

QUESTION = [user("Question:\nWhat is 2 + 2?\n\nAnswer A:\n4\n\nAnswer B:\n5\n\nWhich answer is correct?")]
SETTINGS = Settings(max_tokens=64, timeout=5)
QUICK = RetryPolicy(max_retries=3, base_delay=0.001, jitter=0)


@pytest_asyncio.fixture(loop_scope="function", params=["lean", "sdk"])  # the test's loop: the client lives on it
async def model(
    fake_server: FakeServer, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Retrying]:
    """``openai:fake@URL`` of the fake server, with quick retries, through each transport (the lean one and the
    official SDK)."""
    monkeypatch.setenv("AGORA_OPENAI_TRANSPORT", request.param)
    backend = resolve_model(f"openai:fake@{fake_server.url}", retry=QUICK)
    assert isinstance(backend, Retrying)
    yield backend
    await backend.aclose()


def keys(server: FakeServer) -> list[str]:
    return [r.key for r in server.requests]


async def test_replies_are_deterministic_verdicts(fake_server: FakeServer, model: Backend) -> None:
    judge = Judge(model)
    first = await judge.judge("What is 2 + 2?", ["4", "5"])
    again = await judge.judge("What is 2 + 2?", ["4", "5"])
    assert first.choice in (0, 1) and 50 <= first.confidence <= 100 and first.reasoning
    assert (again.choice, again.confidence, again.reasoning) == (first.choice, first.confidence, first.reasoning)
    assert first.usage.prompt_tokens > 0 and first.usage.completion_tokens > 0
    assert fake_server.totals() == {"ok": 2} and len(set(keys(fake_server))) == 1

    text = await model.complete(QUESTION, SETTINGS)
    assert text.text.startswith("Argument ") and text.output_mode == "text"


async def test_a_429_is_retried_after_its_retry_after_hint(fake_server: FakeServer, model: Backend) -> None:
    fake_server.faults = [Fault("429", retry_after=0.3)]
    run = Meter()
    start = time.monotonic()
    with metering(run):
        completion = await model.complete(QUESTION, SETTINGS)
    assert time.monotonic() - start >= 0.3
    limited, answered = fake_server.requests
    assert (limited.outcome, limited.status, answered.outcome, answered.attempt) == ("429", 429, "ok", 1)
    assert answered.at - limited.at >= 0.3  # the hint, not the 1 ms backoff
    assert completion.retries == 1
    assert (run.calls, run.retries, run.failed) == (1, 1, 0)


async def test_a_500_is_retried(fake_server: FakeServer, model: Backend) -> None:
    fake_server.faults = [Fault("500", times=2)]
    completion = await model.complete(QUESTION, SETTINGS)
    assert completion.retries == 2
    assert [r.status for r in fake_server.requests] == [500, 500, 200]

    fake_server.reset()
    fake_server.faults = [Fault("500", times=9)]
    with pytest.raises(BackendUnavailable, match="HTTP 500"):
        await model.complete(QUESTION, SETTINGS)
    assert fake_server.totals() == {"500": 4}  # the call and its 3 retries


async def test_a_hung_call_times_out_then_succeeds_on_retry(fake_server: FakeServer, model: Retrying) -> None:
    fake_server.faults = [Fault("hang", times=1)]
    quick = Settings(max_tokens=64, timeout=0.3)
    once = Retrying(model.inner, RetryPolicy(max_retries=0))
    start = time.monotonic()
    with pytest.raises(BackendTimeout):
        await once.complete(QUESTION, quick)
    assert time.monotonic() - start < 3

    fake_server.reset()
    completion = await model.complete(QUESTION, quick)
    assert completion.retries == 1 and completion.text.startswith("Argument ")
    assert [r.outcome for r in fake_server.requests] == ["hang", "ok"]


async def test_malformed_json_is_re_asked(fake_server: FakeServer, model: Backend) -> None:
    fake_server.faults = [Fault("malformed", match=lambda body: len(body["messages"]) == 1)]
    run = Meter()
    with metering(run):
        result = await ask_structured(model, QUESTION, verdict_schema(2), SETTINGS)
    assert result.attempts == 2 and result.value.answer in ("A", "B")  # type: ignore[attr-defined]
    with pytest.raises(json.JSONDecodeError):
        json.loads(result.completions[0].text)
    assert [r.outcome for r in fake_server.requests] == ["malformed", "ok"]
    assert len(set(keys(fake_server))) == 2  # the re-ask is a new request: it carries the bad reply and the error
    assert run.calls == 2 and run.retries == 0


async def test_every_call_is_accounted_for(fake_server: FakeServer, model: Backend) -> None:
    fake_server.faults = [
        Fault("429", fraction=0.3, retry_after=0.01),
        Fault("500", fraction=0.3, seed=1, times=2),
    ]
    fake_server.latency = 0.005
    run = Meter()
    questions = [[user(f"Question {i}: which answer is right?")] for i in range(40)]
    with metering(run):
        # a generous timeout: on a loaded machine a 5 s one expires, is retried and spends the retries the faults need
        unhurried = replace(SETTINGS, timeout=60)
        completions = await asyncio.gather(*(model.complete(q, unhurried) for q in questions))

    totals = fake_server.totals()
    assert totals["429"] > 0 and totals["500"] > 0  # both faults were met
    assert totals["ok"] == run.calls == len(questions)
    assert totals["429"] + totals["500"] == run.retries == sum(c.retries for c in completions)
    assert set(fake_server.completed_counts().values()) == {1}  # each question answered exactly once
    assert fake_server.completed_counts().keys() == set(keys(fake_server))
    assert run.prompt_tokens == sum(c.usage.prompt_tokens for c in completions) > 0


def test_request_keys_ignore_what_does_not_change_the_reply() -> None:
    body = {"model": "fake", "messages": [{"role": "user", "content": "hi"}], "temperature": 0, "max_tokens": 5}
    assert request_key(body) == request_key({**body, "max_tokens": 9, "timeout": 3})
    assert request_key(body) != request_key({**body, "seed": 1})


def test_the_server_runs_standalone_and_shows_its_books() -> None:
    command = [sys.executable, "-m", "tests.fixtures.fake_server", "--port", "0", "--fault", "500:1:1"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            url = process.stdout.readline().strip()
            assert url.startswith("http://127.0.0.1:") and url.endswith("/v1")
            with urllib.request.urlopen(f"{url}/models", timeout=5) as reply:
                assert json.load(reply)["data"][0]["id"] == "fake"
            request = urllib.request.Request(
                f"{url}/chat/completions",
                data=json.dumps({"model": "fake", "messages": [{"role": "user", "content": "hi"}]}).encode(),
                headers={"Content-Type": "application/json"},
            )
            for _ in range(2):
                try:
                    urllib.request.urlopen(request, timeout=5).close()
                except urllib.error.HTTPError as exc:
                    assert exc.code == 500
                    exc.close()
            with urllib.request.urlopen(url.removesuffix("/v1") + "/_books", timeout=5) as reply:
                books = json.load(reply)
            assert books["totals"] == {"500": 1, "ok": 1}
        finally:
            process.terminate()
            process.wait(timeout=10)
    assert process.returncode == 0
