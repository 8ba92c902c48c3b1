"""The ``anthropic`` backend, official SDK inside, against a local server that speaks the Messages API."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import aclosing
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from structlog.testing import capture_logs

from agora.agents.judge import SYSTEM_PROMPT, Judge
from agora.backends import Retrying, RetryPolicy, resolve_model
from agora.backends.anthropic import AnthropicBackend
from agora.errors import BackendError, BackendTimeout, BackendUnavailable, ConfigError, RateLimited
from agora.methods.form import verdict_schema
from agora.structured import ask_structured
from agora.types import Settings, Usage, system, user

KEY = "sk-ant-test-SECRET123"
MODEL = "claude-test"
SPEC = f"anthropic:{MODEL}"
FAST = RetryPolicy(max_retries=2, base_delay=0.01)


# --- a local server that speaks the Anthropic Messages wire format --------------------------------


@dataclass
class Recorded:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Reply:
    """One scripted response."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class FakeAnthropic:
    """Records every request and answers with the scripted replies, in order."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.replies: deque[Reply] = deque()
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def reply(self, status: int = 200, body: Any = None, headers: dict[str, str] | None = None, delay: float = 0.0):
        self.replies.append(Reply(status, body, headers or {}, delay))

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except json.JSONDecodeError:
                    body = raw.decode(errors="replace")
                headers = {k.lower(): v for k, v in self.headers.items()}
                with server.lock:
                    server.requests.append(Recorded(self.command, self.path, headers, body))
                    scripted = server.replies.popleft() if server.replies else None
                if scripted is None:  # an unscripted request is a test failure, never a success
                    scripted = Reply(400, api_error("invalid_request_error", "fake server: no scripted reply"))
                if scripted.delay:
                    time.sleep(scripted.delay)
                payload = json.dumps(scripted.body).encode()
                try:
                    self.send_response(scripted.status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(payload)))
                    self.send_header("request-id", f"req_test_{len(server.requests)}")
                    for name, value in scripted.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
                    pass

            do_POST = _serve
            do_GET = _serve

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


def message(
    content: list[dict[str, Any]],
    *,
    stop_reason: str = "end_turn",
    stop_sequence: str | None = None,
    input_tokens: int = 50,
    output_tokens: int = 20,
) -> dict[str, Any]:
    """A Messages API response body, shaped as the real API returns it."""
    return {
        "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
        "type": "message",
        "role": "assistant",
        "model": MODEL,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": stop_sequence,
        "usage": {
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        },
    }


def text_block(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def tool_use(name: str, tool_input: dict[str, Any]) -> dict[str, Any]:
    return {"type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9", "name": name, "input": tool_input}


def verdict_reply(answer: str, confidence: int = 72, **usage: int) -> dict[str, Any]:
    reasoning = "7 has no divisors but 1 and itself; 4 = 2 * 2."
    return message(
        [tool_use("JudgeVerdict", {"reasoning": reasoning, "answer": answer, "confidence": confidence})],
        stop_reason="tool_use",
        **usage,
    )


def sent_key(headers: dict[str, str]) -> str | None:
    """The API key a request carried: in ``x-api-key`` (older SDKs) or ``Authorization: Bearer`` (2.13)."""
    if "x-api-key" in headers:
        assert "authorization" not in headers, "the key must be sent once, in one header"
        return headers["x-api-key"]
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return token if scheme == "Bearer" else None


def api_error(kind: str, text: str) -> dict[str, Any]:
    """An error body, shaped as the real API returns it."""
    return {"type": "error", "error": {"type": kind, "message": text}}


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAnthropic]:
    server = FakeAnthropic()
    server.start()
    for name in (
        "ANTHROPIC_AUTH_TOKEN",
        "ANTHROPIC_CUSTOM_HEADERS",
        "ANTHROPIC_PROFILE",
        "ANTHROPIC_CONFIG_DIR",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
    try:
        yield server
    finally:
        server.stop()


# --- 1. structured verdict through a forced tool call ---------------------------------------------


async def test_judge_verdict_comes_from_a_forced_tool_call(fake: FakeAnthropic) -> None:
    fake.reply(body=verdict_reply("B", 72, input_tokens=50, output_tokens=20))
    judge = Judge(resolve_model(SPEC))
    async with aclosing(judge.model):
        verdict = await judge.judge("Which number is prime?", ["4", "7"])

    assert verdict.choice == 1
    assert verdict.confidence == 72
    assert verdict.reasoning.startswith("7 has no divisors")
    assert verdict.usage == Usage(prompt_tokens=50, completion_tokens=20)
    assert verdict.attempts == 1
    assert verdict.model == SPEC

    assert len(fake.requests) == 1
    sent = fake.requests[0]
    assert (sent.method, sent.path) == ("POST", "/v1/messages")
    assert sent_key(sent.headers) == KEY
    assert sent.headers.get("anthropic-version")
    body = sent.body
    assert body["model"] == MODEL
    assert body["max_tokens"] == 512
    assert body["temperature"] == 0.0
    assert "timeout" not in body  # a transport option, not part of the request body
    # the system message is lifted out of messages into the top-level `system` string
    assert body["system"] == SYSTEM_PROMPT
    assert [m["role"] for m in body["messages"]] == ["user"]
    prompt = body["messages"][0]["content"]
    assert "Which number is prime?" in prompt
    assert "Answer A:\n<data>\n4" in prompt and "Answer B:\n<data>\n7" in prompt
    assert "reasoning, answer, confidence" in prompt  # the schema instruction rides along

    assert len(body["tools"]) == 1
    tool = body["tools"][0]
    assert tool["name"] == "JudgeVerdict"
    assert list(tool["input_schema"]["properties"]) == ["reasoning", "answer", "confidence"]
    assert tool["input_schema"]["properties"]["answer"]["enum"] == ["A", "B"]
    assert set(tool["input_schema"]["required"]) == {"reasoning", "answer", "confidence"}
    assert body["tool_choice"] == {"type": "tool", "name": "JudgeVerdict"}
    assert "stop_sequences" not in body


async def test_tool_call_completion_reports_tool_mode_and_the_tool_input(fake: FakeAnthropic) -> None:
    # a text block before the tool call (the model "thinking aloud") must not leak into the JSON
    reply = verdict_reply("A", 10)
    reply["content"].insert(0, text_block("Let me think."))
    fake.reply(body=reply)
    schema = verdict_schema(2)
    async with aclosing(resolve_model(SPEC, retry=None)) as model:
        result = await ask_structured(model, [user("Q?\n\nAnswer A:\nx\n\nAnswer B:\ny")], schema)
    completion = result.completions[0]
    assert completion.output_mode == "tool"
    assert completion.finish_reason == "tool_use"
    assert json.loads(completion.text)["answer"] == "A"
    assert result.value.answer == "A"  # type: ignore[attr-defined]


async def test_reply_without_the_tool_call_is_a_backend_error(fake: FakeAnthropic) -> None:
    fake.reply(body=message([text_block("I refuse to pick.")], stop_reason="max_tokens"))
    async with aclosing(resolve_model(SPEC, retry=None)) as model:
        with pytest.raises(BackendError, match=r"no JudgeVerdict tool call \(stop: max_tokens\)"):
            await ask_structured(model, [user("Q?")], verdict_schema(2))


# --- 2. plain text --------------------------------------------------------------------------------


async def test_plain_text_reply_and_stop_sequences(fake: FakeAnthropic) -> None:
    fake.reply(body=message([text_block("hel"), text_block("lo")], stop_reason="stop_sequence", stop_sequence="END"))
    settings = Settings(stop=("END",), max_tokens=64, temperature=0.7)
    async with aclosing(resolve_model(SPEC)) as model:
        completion = await model.complete([system("Be brief."), system("Be kind."), user("hi")], settings)

    assert completion.text == "hello"
    assert completion.output_mode == "text"
    assert completion.finish_reason == "stop_sequence"
    assert completion.model == SPEC
    assert completion.usage == Usage(prompt_tokens=50, completion_tokens=20)
    assert completion.retries == 0

    body = fake.requests[0].body
    assert body["stop_sequences"] == ["END"]
    assert body["max_tokens"] == 64
    assert body["temperature"] == 0.7
    assert body["system"] == "Be brief.\n\nBe kind."
    assert body["messages"] == [{"role": "user", "content": "hi"}]
    assert "tools" not in body and "tool_choice" not in body


async def test_base_url_and_api_key_arguments_win_over_the_environment(
    fake: FakeAnthropic, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9")  # nothing listens there
    fake.reply(body=message([text_block("ok")]))
    async with aclosing(resolve_model(SPEC, retry=None, base_url=fake.url, api_key=KEY)) as model:
        completion = await model.complete([user("hi")], Settings())
    assert completion.text == "ok"
    assert sent_key(fake.requests[0].headers) == KEY
    assert "system" not in fake.requests[0].body


# --- 3. an invalid tool input is re-asked ---------------------------------------------------------


async def test_invalid_tool_input_is_reasked_with_the_error(fake: FakeAnthropic) -> None:
    fake.reply(body=verdict_reply("C", 90))  # there is no answer C among two
    fake.reply(body=verdict_reply("B", 72, input_tokens=60, output_tokens=25))
    messages = [system("You judge."), user("Which number is prime?\n\nAnswer A:\n4\n\nAnswer B:\n7")]
    async with aclosing(resolve_model(SPEC, retry=None)) as model:
        result = await ask_structured(model, messages, verdict_schema(2))

    assert result.attempts == 2
    assert result.value.answer == "B"  # type: ignore[attr-defined]
    assert result.value.confidence == 72  # type: ignore[attr-defined]
    assert result.usage == Usage(prompt_tokens=110, completion_tokens=45)

    assert len(fake.requests) == 2
    second = fake.requests[1].body
    assert second["system"] == "You judge."
    assert [m["role"] for m in second["messages"]] == ["user", "assistant", "user"]
    assert json.loads(second["messages"][1]["content"])["answer"] == "C"
    last = second["messages"][-1]["content"]
    assert "That reply was not valid" in last
    assert "answer:" in last and "'A' or 'B'" in last
    assert second["tool_choice"] == {"type": "tool", "name": "JudgeVerdict"}


# --- 4. rate limits -------------------------------------------------------------------------------


def rate_limited(retry_after: str | None = "0") -> dict[str, Any]:
    headers = {"retry-after": retry_after} if retry_after is not None else {}
    body = api_error("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit")
    return {"status": 429, "body": body, "headers": headers}


async def test_rate_limit_is_retried_after_the_hint(fake: FakeAnthropic) -> None:
    fake.reply(**rate_limited("0"))
    fake.reply(body=message([text_block("after the wait")]))
    async with aclosing(resolve_model(SPEC, retry=FAST)) as model:
        completion = await model.complete([user("hi")], Settings())
    assert completion.text == "after the wait"
    assert completion.retries == 1
    assert len(fake.requests) == 2  # one refused, one served: the SDK itself did not retry


async def test_rate_limit_without_retries_raises_with_the_hint(fake: FakeAnthropic) -> None:
    fake.reply(**rate_limited("0"))
    async with aclosing(resolve_model(SPEC, retry=None)) as model:
        with pytest.raises(RateLimited) as info:
            await model.complete([user("hi")], Settings())
    assert info.value.retry_after == 0.0
    assert info.value.retryable
    assert "HTTP 429" in str(info.value)
    assert len(fake.requests) == 1  # the SDK's own retries are off; agora's policy decides


async def test_rate_limit_without_a_hint_has_no_retry_after(fake: FakeAnthropic) -> None:
    fake.reply(**rate_limited(None))
    async with aclosing(resolve_model(SPEC, retry=None)) as model:
        with pytest.raises(RateLimited) as info:
            await model.complete([user("hi")], Settings())
    assert info.value.retry_after is None


async def test_rate_limit_gives_up_after_max_retries(fake: FakeAnthropic) -> None:
    for _ in range(3):
        fake.reply(**rate_limited("0"))
    async with aclosing(resolve_model(SPEC, retry=FAST)) as model:
        with pytest.raises(RateLimited):
            await model.complete([user("hi")], Settings())
    assert len(fake.requests) == 3


# --- 5. authentication failures and secrets -------------------------------------------------------


async def test_bad_key_is_a_config_error_that_never_shows_the_key(fake: FakeAnthropic) -> None:
    # some proxies echo the key they refused: the error must still not carry it
    fake.reply(401, api_error("authentication_error", f"invalid x-api-key: {KEY}"))
    model = resolve_model(SPEC, retry=None)
    assert isinstance(model, AnthropicBackend)
    async with aclosing(model):
        with pytest.raises(ConfigError) as info:
            await model.complete([user("hi")], Settings())
    text = str(info.value)
    assert "HTTP 401" in text and "check the API key" in text
    assert KEY not in text and "SECRET123" not in text
    assert "invalid x-api-key: ***" in text  # the echo was there, and was masked
    assert "\n" not in text
    assert KEY not in repr(model)
    assert KEY not in repr(resolve_model(SPEC))


async def test_permission_denied_is_a_config_error(fake: FakeAnthropic) -> None:
    fake.reply(403, api_error("permission_error", "Your API key does not have permission to use this model"))
    async with aclosing(resolve_model(SPEC, retry=None)) as model:
        with pytest.raises(ConfigError, match="HTTP 403"):
            await model.complete([user("hi")], Settings())


async def test_model_call_log_events_never_contain_the_key(fake: FakeAnthropic, info_logs: None) -> None:
    fake.reply(500, api_error("api_error", f"upstream rejected key {KEY}"))
    fake.reply(body=message([text_block("fine")]))
    fake.reply(401, api_error("authentication_error", f"invalid x-api-key: {KEY}"))
    with capture_logs() as events:
        async with aclosing(resolve_model(SPEC, retry=RetryPolicy(max_retries=0))) as model:
            with pytest.raises(BackendUnavailable):
                await model.complete([user("hi")], Settings())
            await model.complete([user("hi")], Settings())
            with pytest.raises(ConfigError):
                await model.complete([user("hi")], Settings())

    calls = [e for e in events if e["event"] == "model.call"]
    # Retrying does not log the 401 today (a ConfigError is not a BackendError); if it ever does,
    # the loop below checks that event too
    assert len(calls) >= 2
    failed, succeeded = calls[0], calls[1]
    assert failed["backend"] == "anthropic" and failed["model"] == MODEL
    assert "BackendUnavailable" in failed["error"] and "***" in failed["error"]
    assert succeeded["prompt_tokens"] == 50 and succeeded["output_mode"] == "text"
    for event in events:
        for value in event.values():
            assert "SECRET123" not in str(value)


# --- 6. server errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "kind"),
    [(529, "overloaded_error"), (500, "api_error"), (503, "api_error")],
)
async def test_server_errors_are_retryable_unavailability(fake: FakeAnthropic, status: int, kind: str) -> None:
    fake.reply(status, api_error(kind, "Overloaded" if status == 529 else "Internal server error"))
    async with aclosing(resolve_model(SPEC, retry=None)) as model:
        with pytest.raises(BackendUnavailable) as info:
            await model.complete([user("hi")], Settings())
    assert info.value.retryable
    assert f"HTTP {status}" in str(info.value)


async def test_overloaded_is_retried(fake: FakeAnthropic) -> None:
    fake.reply(529, api_error("overloaded_error", "Overloaded"))
    fake.reply(body=message([text_block("back")]))
    async with aclosing(resolve_model(SPEC, retry=FAST)) as model:
        completion = await model.complete([user("hi")], Settings())
    assert (completion.text, completion.retries) == ("back", 1)


async def test_bad_request_is_not_retried(fake: FakeAnthropic) -> None:
    fake.reply(400, api_error("invalid_request_error", "max_tokens: Field required"))
    async with aclosing(resolve_model(SPEC, retry=FAST)) as model:
        with pytest.raises(BackendError) as info:
            await model.complete([user("hi")], Settings())
    assert type(info.value) is BackendError
    assert not info.value.retryable
    assert "HTTP 400" in str(info.value) and "max_tokens: Field required" in str(info.value)
    assert len(fake.requests) == 1


async def test_slow_server_is_a_timeout(fake: FakeAnthropic) -> None:
    fake.reply(body=message([text_block("too late")]), delay=1.0)
    async with aclosing(resolve_model(SPEC, retry=None)) as model:
        with pytest.raises(BackendTimeout):
            await model.complete([user("hi")], Settings(timeout=0.2))


async def test_nothing_listening_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    async with aclosing(resolve_model(SPEC, retry=None, base_url=f"http://127.0.0.1:{port}")) as model:
        with pytest.raises(BackendUnavailable, match="cannot connect"):
            await model.complete([user("hi")], Settings())


# --- 7. configuration -----------------------------------------------------------------------------


def test_missing_key_is_a_config_error_at_resolve_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="ANTHROPIC_API_KEY"):
        resolve_model(SPEC)
    assert not AnthropicBackend.availability().usable


def test_missing_model_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    with pytest.raises(ConfigError, match="needs a model name"):
        resolve_model("anthropic:")


def test_resolved_model_is_wrapped_with_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    model = resolve_model(SPEC)
    assert isinstance(model, Retrying) and isinstance(model.inner, AnthropicBackend)
    assert model.spec == SPEC
    assert AnthropicBackend.availability().usable
