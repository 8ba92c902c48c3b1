"""Model specs, the backend registry, the retry wrapper and the LangChain and scripted backends."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from agora.agents.judge import Judge
from agora.backends import Backend, Retrying, RetryPolicy, backend, build_backend, resolve_model
from agora.backends.langchain import LangChainBackend
from agora.backends.scripted import ScriptedBackend
from agora.errors import (
    BackendError,
    BackendTimeout,
    BackendUnavailable,
    ConfigError,
    ExecutionError,
    RateLimited,
)
from agora.types import Completion, Message, OutputSchema, Settings, user
from tests.fixtures.chat_models import echo_verdict

HELLO = [user("hello")]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("opnai:gpt-4o", "unknown backend 'opnai' (did you mean 'openai'?)"),
        ("zzz", "unknown backend 'zzz' (known: anthropic, "),  # test fixtures may register more
        ("", "empty model spec"),
        ("openai:", "openai spec needs a model name"),
        ("local:/nowhere/model.gguf", "local model file not found: /nowhere/model.gguf"),
        ("local:llama-70b", "unknown local model 'llama-70b'"),
        ("langchain:nomodule", "langchain spec needs module:attr"),
        ("langchain:tests.fixtures.chat_models:not_a_model", "not a LangChain BaseChatModel: int"),
        ("scripted", "scripted needs a replies file"),
    ],
)
def test_bad_specs_are_config_errors_that_say_what(spec: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        build_backend(spec)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_openai_without_key_or_url_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ConfigError, match="no API key"):
        build_backend("openai:gpt-4o-mini")


def test_openai_spec_carries_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    model = build_backend("openai:qwen@http://127.0.0.1:9/v1")
    assert (model.model, model.base_url, model.spec) == ("qwen", "http://127.0.0.1:9/v1", "openai:qwen")  # type: ignore[attr-defined]


def test_keys_never_appear_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    model = resolve_model("openai:gpt-4o-mini", api_key="sk-very-secret-key-123")
    assert "sk-very-secret" not in repr(model)
    assert "sk-very-secret" not in repr(vars(model.inner))


def test_user_backends_register_by_decorator() -> None:
    @backend("echo-test")
    class Echo(Backend):
        async def complete(
            self, messages: Sequence[Message], settings: Settings, schema: OutputSchema | None = None
        ) -> Completion:
            return Completion(text=messages[-1].content.upper(), model=self.spec)

    model = resolve_model("echo-test:v1")
    assert isinstance(model, Retrying) and isinstance(model.inner, Echo)
    assert asyncio.run(model.complete(HELLO, Settings())).text == "HELLO"


def test_scripted_spec_reads_a_replies_file(tmp_path: Path) -> None:
    path = tmp_path / "replies.json"
    path.write_text(json.dumps(["first", "second"]))
    model = build_backend(f"scripted:{path}")
    texts = [asyncio.run(model.complete(HELLO, Settings())).text for _ in range(2)]
    assert texts == ["first", "second"]
    with pytest.raises(ExecutionError, match="script exhausted after 2 replies"):
        asyncio.run(model.complete(HELLO, Settings()))


def test_scripted_spec_rejects_a_bad_file(tmp_path: Path) -> None:
    path = tmp_path / "replies.json"
    path.write_text('{"not": "a list"}')
    with pytest.raises(ConfigError, match=r"replies.json: scripted replies must be a JSON list"):
        build_backend(f"scripted:{path}")


class Flaky(Backend):
    """Fails with the given errors, then answers."""

    kind = "flaky"

    def __init__(self, errors: list[BackendError]) -> None:
        super().__init__("m")
        self.errors = errors
        self.calls = 0

    async def complete(
        self, messages: Sequence[Message], settings: Settings, schema: OutputSchema | None = None
    ) -> Completion:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return Completion(text="ok", model=self.spec)


FAST = RetryPolicy(max_retries=3, base_delay=0.001)


async def test_retrying_retries_transient_errors_and_logs_one_event(info_logs: None) -> None:
    inner = Flaky([RateLimited("429", retry_after=0.0), BackendUnavailable("503")])
    with capture_logs() as logs:
        completion = await Retrying(inner, FAST).complete(HELLO, Settings())
    assert (completion.text, completion.retries, inner.calls) == ("ok", 2, 3)
    events = [e for e in logs if e["event"] == "model.call"]
    assert len(events) == 1
    assert events[0]["retries"] == 2 and events[0]["backend"] == "flaky" and "latency_ms" in events[0]


async def test_retrying_gives_up_after_max_retries() -> None:
    inner = Flaky([BackendUnavailable(f"down {i}") for i in range(5)])
    with capture_logs() as logs, pytest.raises(BackendUnavailable, match="down 3"):
        await Retrying(inner, FAST).complete(HELLO, Settings())
    assert inner.calls == 4
    assert logs[-1]["retries"] == 3 and "BackendUnavailable: down 3" in logs[-1]["error"]


async def test_a_call_builds_no_log_event_below_the_level() -> None:
    with capture_logs() as logs:
        await Retrying(Flaky([]), FAST).complete(HELLO, Settings())
    assert not [e for e in logs if e["event"] == "model.call"]  # the default level, warning, writes none


async def test_retrying_does_not_retry_permanent_errors() -> None:
    inner = Flaky([BackendError("400 bad request")])
    with pytest.raises(BackendError, match="400"):
        await Retrying(inner, FAST).complete(HELLO, Settings())
    assert inner.calls == 1


def test_retry_after_wins_over_backoff_and_is_capped() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=10.0, jitter=0.0)
    assert policy.delay(1, retry_after=2.5) == 2.5
    assert policy.delay(1, retry_after=99) == 10.0
    assert [policy.delay(n) for n in (1, 2, 3, 5)] == [1.0, 2.0, 4.0, 10.0]


async def test_a_hung_call_times_out() -> None:
    class Hung(Backend):
        kind = "hung"

        async def complete(
            self, messages: Sequence[Message], settings: Settings, schema: OutputSchema | None = None
        ) -> Completion:
            await asyncio.sleep(60)
            raise AssertionError("unreachable")

    with pytest.raises(BackendTimeout, match=r"no reply within 0\.05 s"):
        await Retrying(Hung("m"), RetryPolicy(max_retries=0)).complete(HELLO, Settings(timeout=0.05))


async def test_langchain_object_is_a_backend_with_usage() -> None:
    model = resolve_model(echo_verdict())
    verdict = await Judge(model).judge("q?", ["a", "b"])
    assert (verdict.choice, verdict.confidence) == (1, 61)
    assert (verdict.usage.prompt_tokens, verdict.usage.completion_tokens) == (12, 9)


async def test_langchain_module_attr_spec_calls_a_factory() -> None:
    model = build_backend("langchain:tests.fixtures.chat_models:echo_verdict")
    assert isinstance(model, LangChainBackend)
    assert model.spec == "langchain:tests.fixtures.chat_models:echo_verdict"
    completion = await model.complete(HELLO, Settings())
    assert '"answer": "B"' in completion.text


async def test_langchain_errors_become_backend_errors() -> None:
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel

    model = LangChainBackend.wrap(GenericFakeChatModel(messages=iter([])))
    with pytest.raises(BackendError, match="langchain:"):
        await model.complete(HELLO, Settings())


def test_scripted_calls_are_recorded_with_settings() -> None:
    model = ScriptedBackend(lambda messages: f"{len(messages)} messages")
    completion = asyncio.run(model.complete([user("a"), user("b")], Settings(seed=7)))
    assert completion.text == "2 messages"
    assert model.calls[0].settings.seed == 7
