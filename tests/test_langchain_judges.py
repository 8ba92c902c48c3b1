"""LangChain chat models as judges and debaters: the real ``ChatOpenAI`` against the fake OpenAI-compatible server."""

from __future__ import annotations

import json
from typing import Any

import pytest
from langchain_openai import ChatOpenAI

from agora.agents.debater import Debater
from agora.agents.judge import Judge
from agora.backends import RetryPolicy, resolve_model
from agora.backends.langchain import LangChainBackend
from agora.errors import ConfigError, RateLimited
from agora.methods.form import verdict_schema
from agora.state import View
from agora.structured import output_schema
from agora.types import Settings, user
from tests.fixtures.chat_models import FAKE_SERVER_URL, RefusesSchema, echo_verdict
from tests.fixtures.fake_server import FakeServer, Fault
from tests.test_methods import recorded

VERDICT = output_schema(verdict_schema(2))
QUESTION = [user("Is the sky blue? A: yes. B: no.")]


@pytest.fixture
def bodies(fake_server: FakeServer) -> list[dict[str, Any]]:
    """The body of every chat request the fake server gets, in order."""
    return recorded(fake_server)


def chat(server: FakeServer) -> ChatOpenAI:
    return ChatOpenAI(base_url=server.url, api_key="x", model="fake", max_retries=0)


async def test_chat_openai_judge_is_valid_first_time_with_schema_settings_and_usage(
    fake_server: FakeServer, bodies: list[dict[str, Any]]
) -> None:
    model = chat(fake_server)
    judge = Judge(resolve_model(model), settings=Settings(temperature=0.3, max_tokens=300, seed=7))
    verdict = await judge.judge("Is the sky blue?", ["Yes.", "No."])
    assert verdict.attempts == 1
    assert verdict.choice in (0, 1)
    assert verdict.usage.prompt_tokens > 0 and verdict.usage.completion_tokens > 0
    (body,) = bodies
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"]["properties"]["answer"]["enum"] == ["A", "B"]
    assert (body["temperature"], body["max_completion_tokens"], body["seed"]) == (0.3, 300, 7)
    assert (model.temperature, model.max_tokens, model.seed) == (None, None, None)  # the user's object is unchanged


async def test_completion_is_the_raw_json_and_records_the_mode(fake_server: FakeServer) -> None:
    backend = LangChainBackend.wrap(chat(fake_server))
    completion = await backend.complete(QUESTION, Settings(), VERDICT)
    assert completion.output_mode == "json_schema"
    assert set(json.loads(completion.text)) == {"reasoning", "answer", "confidence"}
    assert completion.finish_reason == "stop"
    assert completion.usage.total_tokens > 0


async def test_a_bound_chat_model_judges_and_its_bound_kwargs_win(
    fake_server: FakeServer, bodies: list[dict[str, Any]]
) -> None:
    bound = chat(fake_server).bind(temperature=0.9)
    verdict = await Judge(resolve_model(bound)).judge("Is the sky blue?", ["Yes.", "No."])
    assert verdict.attempts == 1
    (body,) = bodies
    assert body["response_format"]["type"] == "json_schema"
    assert (body["temperature"], body["max_completion_tokens"]) == (0.9, Settings().max_tokens)


async def test_a_langchain_module_attr_spec_judges(
    fake_server: FakeServer, bodies: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(FAKE_SERVER_URL, fake_server.url)
    model = resolve_model("langchain:tests.fixtures.chat_models:openai_chat")
    verdict = await Judge(model).judge("Is the sky blue?", ["Yes.", "No."])
    assert (verdict.attempts, verdict.model) == (1, "langchain:tests.fixtures.chat_models:openai_chat")
    assert [b["response_format"]["type"] for b in bodies] == ["json_schema"]


def test_a_spec_names_a_factory_or_a_model_class_and_a_failing_factory_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert isinstance(
        resolve_model("langchain:tests.fixtures.chat_models:RefusesSchema", retry=None).base, RefusesSchema
    )
    monkeypatch.delenv(FAKE_SERVER_URL, raising=False)
    with pytest.raises(
        ConfigError, match=r"^langchain:tests\.fixtures\.chat_models:openai_chat: openai_chat\(\) failed: "
    ):
        resolve_model("langchain:tests.fixtures.chat_models:openai_chat")


async def test_a_debate_turn_is_plain_text_with_the_settings(
    fake_server: FakeServer, bodies: list[dict[str, Any]]
) -> None:
    debater = Debater(resolve_model(chat(fake_server)), settings=Settings(max_tokens=123, stop=("\n\n\n",)))
    text = await debater.argue(View(question="Is the sky blue?", answers=("Yes.", "No.")), side=0, round_=1)
    assert text.startswith("Argument ")
    (body,) = bodies
    assert "response_format" not in body
    assert (body["max_completion_tokens"], body["stop"]) == (123, ["\n\n\n"])


@pytest.mark.parametrize(
    ("make", "named"),
    [
        (lambda m: m.with_structured_output(VERDICT.json_schema), "RunnableSequence"),
        (lambda m: m | (lambda message: message.text), "RunnableSequence"),
        (lambda m: m.with_fallbacks([m]), "RunnableWithFallbacks"),
        (lambda m: object(), "object"),
    ],
)
def test_what_is_not_a_chat_model_is_refused_in_one_line(fake_server: FakeServer, make: Any, named: str) -> None:
    with pytest.raises(ConfigError) as info:
        resolve_model(make(chat(fake_server)))
    message = str(info.value)
    assert message.startswith(f"not a LangChain BaseChatModel: {named} ")
    assert "with_structured_output(...)" in message and "\n" not in message


async def test_a_refused_json_schema_falls_back_to_json_mode_and_is_remembered() -> None:
    model = RefusesSchema()
    backend = LangChainBackend.wrap(model)
    first = await backend.complete(QUESTION, Settings(temperature=0.4), VERDICT)
    second = await backend.complete(QUESTION, Settings(temperature=0.4), VERDICT)
    assert (first.output_mode, second.output_mode, backend.schema_mode) == ("json_object", "json_object", "json_object")
    kinds = [c["response_format"]["type"] for c in model.calls]
    assert kinds == ["json_schema", "json_object", "json_object"]
    assert model.structured_requests == ["json_schema", "json_mode"]  # each mode built once
    assert {c["temperature"] for c in model.calls} == {0.4} and model.temperature is None
    assert (second.usage.prompt_tokens, second.usage.completion_tokens) == (30, 12)


async def test_a_model_without_structured_output_is_asked_by_the_prompt() -> None:
    backend = LangChainBackend.wrap(echo_verdict())
    completion = await backend.complete(QUESTION, Settings(), VERDICT)
    assert (completion.output_mode, backend.schema_mode) == ("text", "text")
    assert json.loads(completion.text)["answer"] == "B"


async def test_rate_limits_become_retryable_errors(fake_server: FakeServer) -> None:
    fake_server.faults = [Fault("429", times=1)]
    with pytest.raises(RateLimited, match=r"langchain:fake: HTTP 429"):
        await LangChainBackend.wrap(chat(fake_server)).complete(QUESTION, Settings(), VERDICT)
    fake_server.reset()
    verdict = await Judge(resolve_model(chat(fake_server), retry=RetryPolicy(base_delay=0.01))).judge("q?", ["a", "b"])
    assert verdict.attempts == 1
    assert fake_server.totals() == {"429": 1, "ok": 1}
