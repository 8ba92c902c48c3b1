"""The two transports of the ``openai`` backend against the fake server: the same request gives the same completion,
and the same HTTP failure the same agora error, whichever transport carries it."""

from __future__ import annotations

import pytest

from agora.backends.openai import OpenAIBackend
from agora.backends.transport import Lean, Sdk
from agora.errors import BackendTimeout, BackendUnavailable, ConfigError, RateLimited
from agora.methods.form import verdict_schema
from agora.structured import output_schema
from agora.types import Completion, Settings, user
from tests.fixtures.fake_server import FakeServer, Fault

QUESTION = [user("Question: is the sky blue?\n\nAnswer A: yes\n\nAnswer B: no")]
SETTINGS = Settings(max_tokens=64, seed=3, timeout=5)
TRANSPORTS = ("lean", "sdk")


async def both(server: FakeServer, **call: object) -> dict[str, Completion]:
    """The completion of one call through each transport."""
    out = {}
    for name in TRANSPORTS:
        model = OpenAIBackend("fake", base_url=server.url, transport=name)  # type: ignore[arg-type]
        try:
            out[name] = await model.complete(QUESTION, **call)  # type: ignore[arg-type]
        finally:
            await model.aclose()
    return out


def same(completions: dict[str, Completion]) -> None:
    lean, sdk = completions["lean"], completions["sdk"]
    assert lean.model_dump(exclude={"latency_s"}) == sdk.model_dump(exclude={"latency_s"})


async def test_a_text_call_is_the_same_through_both(fake_server: FakeServer) -> None:
    completions = await both(fake_server, settings=SETTINGS)
    same(completions)
    assert completions["lean"].text.startswith("Argument ") and completions["lean"].usage.prompt_tokens > 0
    bodies = [r for r in fake_server.requests]
    assert len(bodies) == 2 and bodies[0].key == bodies[1].key  # the same request went out twice


async def test_a_structured_call_is_the_same_through_both(fake_server: FakeServer) -> None:
    completions = await both(fake_server, settings=SETTINGS, schema=output_schema(verdict_schema(2)))
    same(completions)
    assert completions["lean"].output_mode == "json_schema"
    assert '"answer"' in completions["lean"].text


@pytest.mark.parametrize(
    ("fault", "error", "text"),
    [
        (Fault("429", retry_after=0.25), RateLimited, "HTTP 429: fake server: injected rate limit"),
        (Fault("500"), BackendUnavailable, "HTTP 500: fake server: injected internal error"),
        (Fault("hang", hang=5), BackendTimeout, "request timed out"),
    ],
)
async def test_a_failure_is_the_same_error_through_both(
    fake_server: FakeServer, fault: Fault, error: type[Exception], text: str
) -> None:
    fake_server.faults = [Fault(fault.kind, times=10, retry_after=fault.retry_after, hang=fault.hang)]
    for name in TRANSPORTS:
        model = OpenAIBackend("fake", base_url=fake_server.url, transport=name)  # type: ignore[arg-type]
        try:
            with pytest.raises(error) as info:
                await model.complete(QUESTION, Settings(max_tokens=16, timeout=0.5))
        finally:
            await model.aclose()
        assert str(info.value).startswith("openai:fake: ") and text in str(info.value), name
        if isinstance(info.value, RateLimited):
            assert info.value.retry_after == 0.25, name


def test_the_transport_is_chosen_by_name_or_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AGORA_OPENAI_TRANSPORT", raising=False)
    assert isinstance(OpenAIBackend("m", base_url="http://127.0.0.1:9/v1").transport, Lean)
    monkeypatch.setenv("AGORA_OPENAI_TRANSPORT", "sdk")
    assert isinstance(OpenAIBackend("m", base_url="http://127.0.0.1:9/v1").transport, Sdk)
    assert isinstance(OpenAIBackend("m", base_url="http://127.0.0.1:9/v1", transport="lean").transport, Lean)
    monkeypatch.setenv("AGORA_OPENAI_TRANSPORT", "curl")
    with pytest.raises(ConfigError, match=r"^AGORA_OPENAI_TRANSPORT: unknown transport 'curl' \(known: lean, sdk\)$"):
        OpenAIBackend("m", base_url="http://127.0.0.1:9/v1")


async def test_credentials_in_the_url_are_sent_as_basic_auth_not_in_the_url(fake_server: FakeServer) -> None:
    lean = Lean("openai:fake", fake_server.url.replace("http://", "http://agent:s%40cret@"), "sk-none")
    try:
        reply = await lean.chat({"model": "fake", "messages": [{"role": "user", "content": "hi"}]}, timeout=5)
    finally:
        await lean.aclose()
    assert reply["choices"][0]["message"]["content"].startswith("Argument ")
    assert lean.base_url == fake_server.url  # the credentials left the URL...
    assert lean._headers["Authorization"] == "Basic YWdlbnQ6c0BjcmV0"  # ...for the header: base64 of agent:s@cret


async def test_a_key_http_cannot_carry_is_a_config_error_naming_the_model_not_the_key(fake_server: FakeServer) -> None:
    lean = Lean("openai:fake", fake_server.url, "sk-secret\nX-Injected: 1")
    with pytest.raises(ConfigError, match=r"^openai:fake: header 'Authorization'") as info:
        await lean.chat({"model": "fake", "messages": []}, timeout=5)
    assert "sk-secret" not in str(info.value)
    assert fake_server.totals() == {}  # nothing went out
