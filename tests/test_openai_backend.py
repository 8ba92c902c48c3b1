"""The ``openai`` backend against a real ``llama_cpp.server`` serving SmolLM2-135M on 127.0.0.1.

agora's ``OpenAIBackend`` does the talking, through its lean transport and through the official ``openai`` client.
The error-mapping tests need no server (they point at a closed port) and so are neither slow nor model-bound.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any, Literal

import openai
import pytest
from structlog.testing import capture_logs

from agora.agents.judge import Judge
from agora.backends import Retrying, RetryPolicy, resolve_model
from agora.backends.openai import NO_KEY, OpenAIBackend
from agora.errors import BackendUnavailable, ConfigError
from agora.methods.form import verdict_schema
from agora.structured import ask_structured, output_schema
from agora.types import Settings, Usage, user

HELLO = [user("Say hello.")]
SHORT = Settings(max_tokens=16, seed=1, temperature=0)
QUESTION = [
    user(
        "Question:\nWhat is 2 + 2?\n\nAnswer A:\n4\n\nAnswer B:\n5\n\n"
        "Which answer is correct? Give your reasoning, the letter, and your confidence."
    )
]


@pytest.fixture
def logs(info_logs: None) -> Iterator[list[dict[str, Any]]]:
    """Every structlog event emitted during the test, info level included."""
    with capture_logs() as captured:
        yield captured


def events(captured: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [e for e in captured if e["event"] == name]


@pytest.mark.local_model
@pytest.mark.slow
@pytest.mark.parametrize("form", ["constructor", "spec"])
async def test_plain_chat_through_a_real_server(llama_server: str, form: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    if form == "constructor":
        model = OpenAIBackend("smollm2", base_url=llama_server)
    else:
        model = resolve_model("openai:smollm2@" + llama_server, retry=None)
        assert isinstance(model, OpenAIBackend)
    assert model.base_url == llama_server
    assert model.spec == "openai:smollm2"
    try:
        completion = await model.complete(HELLO, SHORT)
    finally:
        await model.aclose()

    assert completion.text.strip()
    assert completion.model == "openai:smollm2"
    assert completion.usage.prompt_tokens > 0
    assert 0 < completion.usage.completion_tokens <= SHORT.max_tokens
    assert completion.output_mode == "text"
    assert completion.finish_reason in {"stop", "length"}
    assert completion.latency_s > 0
    assert completion.retries == 0


@pytest.mark.local_model
@pytest.mark.slow
async def test_the_server_really_refuses_json_schema(llama_server: str) -> None:
    """First-hand: ``llama_cpp.server`` answers HTTP 500 to ``response_format`` type ``json_schema``."""
    client = openai.AsyncOpenAI(base_url=llama_server, api_key=NO_KEY, max_retries=0)
    wanted = output_schema(verdict_schema(2))
    try:
        with pytest.raises(openai.InternalServerError) as info:
            await client.chat.completions.create(
                model="smollm2",
                messages=[{"role": "user", "content": "hello"}],
                max_tokens=8,
                response_format={
                    "type": "json_schema",
                    "json_schema": {"name": wanted.name, "schema": wanted.json_schema},
                },
            )
    finally:
        await client.close()
    assert info.value.status_code == 500
    assert "json_object" in str(info.value)  # the validation error names the types it accepts


@pytest.mark.local_model
@pytest.mark.slow
@pytest.mark.parametrize("transport", ["lean", "sdk"])
async def test_structured_verdict_falls_back_to_json_object(
    llama_server: str, logs: list[dict[str, Any]], transport: Literal["lean", "sdk"]
) -> None:
    schema = verdict_schema(2)
    model = OpenAIBackend("smollm2", base_url=llama_server, transport=transport)
    assert model.schema_mode == "json_schema"
    try:
        settings = Settings(max_tokens=300, seed=1, temperature=0)
        result = await ask_structured(model, QUESTION, schema, settings)

        # The backend asked for json_schema first, was refused with HTTP 500, and fell back once.
        refused = events(logs, "openai.format_refused")
        assert [(e["mode"], e["status"]) for e in refused] == [("json_schema", 500)]
        assert model.schema_mode == "json_object"
        assert all(c.output_mode == "json_object" for c in result.completions)

        # The value is a valid verdict: the schema's own validation accepts it again.
        verdict = schema.model_validate(result.value.model_dump())
        assert verdict.answer in {"A", "B"}  # type: ignore[attr-defined]
        assert 0 <= verdict.confidence <= 100  # type: ignore[attr-defined]
        assert verdict.reasoning.strip()  # type: ignore[attr-defined]

        # Usage is the sum over every completion the answer took, and is not zero.
        total = sum((c.usage for c in result.completions), Usage())
        assert result.usage == total
        assert result.usage.prompt_tokens > 0
        assert result.usage.completion_tokens > 0
        assert 1 <= result.attempts <= 3

        # The mode that worked is remembered: the next structured call is not refused again.
        logs.clear()
        again = await model.complete(QUESTION, Settings(max_tokens=200, seed=1), output_schema(schema))
        assert again.output_mode == "json_object"
        assert events(logs, "openai.format_refused") == []
    finally:
        await model.aclose()


@pytest.mark.local_model
@pytest.mark.slow
async def test_openai_base_url_env_var_is_honoured_without_api_key(
    llama_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ConfigError, match="no API key"):
        OpenAIBackend("smollm2")
    assert not OpenAIBackend.availability().usable

    monkeypatch.setenv("OPENAI_BASE_URL", llama_server)
    assert OpenAIBackend.availability().usable
    model = resolve_model("openai:smollm2", retry=None)
    assert isinstance(model, OpenAIBackend)
    assert model.base_url == llama_server
    try:
        assert model.transport.api_key == NO_KEY
        completion = await model.complete(HELLO, SHORT)
    finally:
        await model.aclose()
    assert completion.text.strip()
    assert completion.usage.completion_tokens > 0


def closed_port_url() -> str:
    """The URL of a port that was free a moment ago: nothing listens there, connections are refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


async def test_closed_port_is_backend_unavailable() -> None:
    model = resolve_model("openai:smollm2@" + closed_port_url(), retry=None)
    assert isinstance(model, OpenAIBackend)
    try:
        with pytest.raises(BackendUnavailable, match=r"^openai:smollm2: cannot connect") as info:
            await model.complete(HELLO, Settings(max_tokens=4, timeout=10))
    finally:
        await model.aclose()
    assert info.value.retryable


async def test_closed_port_is_retried_exactly_max_retries_times(logs: list[dict[str, Any]]) -> None:
    raw = resolve_model("openai:smollm2@" + closed_port_url(), retry=None)
    calls = 0
    complete = raw.complete

    async def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        return await complete(*args, **kwargs)

    raw.complete = counting  # type: ignore[method-assign]
    model = resolve_model(raw, retry=RetryPolicy(max_retries=2, base_delay=0.01))
    assert isinstance(model, Retrying)
    try:
        with pytest.raises(BackendUnavailable):
            await model.complete(HELLO, Settings(max_tokens=4, timeout=10))
    finally:
        await model.aclose()

    assert calls == 3  # the first attempt and exactly 2 retries
    [event] = events(logs, "model.call")
    assert event["log_level"] == "warning"
    assert event["backend"] == "openai"
    assert event["model"] == "smollm2"
    assert event["retries"] == 2
    assert event["error"].startswith("BackendUnavailable: openai:smollm2: cannot connect")
    assert "prompt_tokens" not in event


@pytest.mark.local_model
@pytest.mark.slow
async def test_successful_call_logs_one_model_call_event(llama_server: str, logs: list[dict[str, Any]]) -> None:
    model = resolve_model("openai:smollm2@" + llama_server)
    assert isinstance(model, Retrying)
    try:
        completion = await model.complete(HELLO, SHORT)
    finally:
        await model.aclose()

    [event] = events(logs, "model.call")
    assert event["log_level"] == "info"
    assert event["backend"] == "openai"
    assert event["model"] == "smollm2"
    assert event["prompt_tokens"] == completion.usage.prompt_tokens > 0
    assert event["completion_tokens"] == completion.usage.completion_tokens > 0
    assert isinstance(event["latency_ms"], float)
    assert event["latency_ms"] > 0
    assert event["retries"] == 0
    assert event["output_mode"] == "text"
    assert event["schema"] is None
    assert "error" not in event


@pytest.mark.local_model
@pytest.mark.slow
async def test_verdict_probability_comes_from_token_logprobs(llama_server: str) -> None:
    judge = Judge(OpenAIBackend("smollm2", base_url=llama_server), logprobs=True, settings=Settings(max_tokens=256))
    verdict = await judge.judge("What is the capital of France?", ["Paris", "Berlin"])
    assert verdict.probability is not None and 0 < verdict.probability <= 1
    plain = await Judge(OpenAIBackend("smollm2", base_url=llama_server)).judge("What is 2 + 2?", ["4", "5"])
    assert plain.probability is None  # not asked for, not made up
