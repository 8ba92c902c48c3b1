"""The structured-output path on the scripted backend: parsing, validation, re-asking, failure."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel

from agora.agents.judge import Judge
from agora.backends.scripted import ScriptedBackend
from agora.errors import VerdictParseError
from agora.methods.form import verdict_schema
from agora.structured import ask_structured, extract_json
from agora.types import user

VALID = {"reasoning": "Paris is the capital.", "answer": "A", "confidence": 90}
QUESTION = [user("What is the capital of France? A: Paris, B: Lyon")]


class Pair(BaseModel):
    reasoning: str
    value: int


@pytest.mark.parametrize(
    "text",
    [
        '{"reasoning": "r", "value": 3}',
        'Sure! Here it is:\n```json\n{"reasoning": "r", "value": 3}\n```\nHope that helps.',
        'I think {not json} but then {"reasoning": "r", "value": 3} and done',
        '```\n{"reasoning": "r", "value": 3}\n```',
    ],
    ids=["plain", "fenced-json", "prose-wrapped", "fenced-bare"],
)
def test_extract_json_finds_the_object(text: str) -> None:
    assert extract_json(text) == {"reasoning": "r", "value": 3}


@pytest.mark.parametrize("text", ["", "no json here", "[1, 2, 3]", '{"unterminated": '])
def test_extract_json_rejects_text_without_an_object(text: str) -> None:
    with pytest.raises(ValueError, match="no JSON object"):
        extract_json(text)


async def test_valid_reply_takes_one_attempt_and_sends_the_schema() -> None:
    model = ScriptedBackend([json.dumps(VALID)])
    result = await ask_structured(model, QUESTION, verdict_schema(2))
    assert result.value.answer == "A"  # type: ignore[attr-defined]
    assert result.attempts == 1
    call = model.calls[0]
    assert call.schema is not None and call.schema.name == "JudgeVerdict"
    assert list(call.schema.json_schema["properties"]) == ["reasoning", "answer", "confidence"]
    assert "JSON schema" in call.messages[-1].content


async def test_prose_wrapped_reply_is_repaired_without_reasking() -> None:
    model = ScriptedBackend([f"Let me think.\n```json\n{json.dumps(VALID)}\n```"])
    result = await ask_structured(model, QUESTION, verdict_schema(2))
    assert result.value.confidence == 90  # type: ignore[attr-defined]
    assert len(model.calls) == 1


@pytest.mark.parametrize(
    ("bad", "error_fragment"),
    [
        ("I pick Paris, very confident.", "no JSON object"),
        (json.dumps({**VALID, "confidence": "very high"}), "confidence"),
        (json.dumps({"reasoning": "r", "answer": "A"}), "confidence: Field required"),
        (json.dumps({**VALID, "answer": "C"}), "answer"),
        (json.dumps({**VALID, "confidence": 140}), "less than or equal to 100"),
    ],
    ids=["malformed", "wrong-type", "missing-field", "out-of-range-choice", "out-of-range-confidence"],
)
async def test_invalid_reply_is_reasked_with_the_error(bad: str, error_fragment: str) -> None:
    model = ScriptedBackend([bad, json.dumps(VALID)])
    result = await ask_structured(model, QUESTION, verdict_schema(2))
    assert result.attempts == 2
    assert result.value.answer == "A"  # type: ignore[attr-defined]
    second = model.calls[1].messages
    assert second[-2].role == "assistant" and second[-2].content == bad
    assert second[-1].role == "user" and error_fragment in second[-1].content


async def test_gives_up_after_bounded_reasks_with_the_raw_text() -> None:
    model = ScriptedBackend(["nope", "still nope", "never JSON"])
    with pytest.raises(VerdictParseError) as info:
        await ask_structured(model, QUESTION, verdict_schema(2), max_reasks=2)
    assert info.value.raw == "never JSON"
    assert info.value.attempts == 3
    assert len(model.calls) == 3
    assert "no valid JudgeVerdict after 3 attempts" in str(info.value)


async def test_zero_reasks_means_one_attempt() -> None:
    model = ScriptedBackend(["garbage", json.dumps(VALID)])
    with pytest.raises(VerdictParseError):
        await ask_structured(model, QUESTION, verdict_schema(2), max_reasks=0)
    assert len(model.calls) == 1


async def test_usage_sums_over_attempts() -> None:
    model = ScriptedBackend(["one two three", json.dumps(VALID)])
    result = await ask_structured(model, QUESTION, verdict_schema(2))
    assert result.usage.completion_tokens == 3 + len(json.dumps(VALID).split())
    assert result.usage.prompt_tokens == sum(c.usage.prompt_tokens for c in result.completions)


async def test_judge_maps_letter_to_index_and_records_persona() -> None:
    model = ScriptedBackend([json.dumps({"reasoning": "third", "answer": "C", "confidence": 55})])
    judge = Judge(model, "skeptical", name="j1")
    verdict = await judge.judge("q?", ["a", "b", "c"])
    assert (verdict.choice, verdict.confidence, verdict.persona, verdict.judge) == (2, 55, "skeptical", "j1")
    system_prompt, body = (m.content for m in model.calls[0].messages)
    assert "skeptical of official messaging" not in system_prompt
    assert "Answer C:\n<data>\nc\n</data>" in body
    # shared_first: the persona comes after everything jurors share (question, answers), so a local model reuses it
    assert body.index("Answer C:") < body.index("skeptical of official messaging")


async def test_persona_first_layout_puts_the_persona_at_the_head() -> None:
    model = ScriptedBackend([json.dumps({"reasoning": "r", "answer": "A", "confidence": 55})])
    await Judge(model, "skeptical", layout="persona_first").judge("q?", ["a", "b"])
    system_prompt, body = (m.content for m in model.calls[0].messages)
    assert system_prompt.startswith("You are a judge who is skeptical of official messaging")
    assert "skeptical" not in body


async def test_judge_never_invents_a_verdict_from_garbage() -> None:
    judge = Judge(ScriptedBackend(["", "{}", '{"answer": "A"}']))
    with pytest.raises(VerdictParseError) as info:
        await judge.judge("q?", ["a", "b"])
    assert info.value.raw == '{"answer": "A"}'


@pytest.mark.parametrize(
    ("reason", "hint"),
    [("length", "cut off at the token limit"), ("repetition", "kept repeating itself"), ("stop", None)],
)
async def test_a_reask_says_why_the_reply_was_cut_off(reason: str, hint: str | None) -> None:
    class Ending(ScriptedBackend):
        async def complete(self, messages, settings, schema=None):  # type: ignore[no-untyped-def]
            completion = await super().complete(messages, settings, schema)
            return completion.model_copy(update={"finish_reason": reason if len(self.calls) == 1 else "stop"})

    model = Ending(['{"reasoning": "It is Paris. It is Paris. It', json.dumps(VALID)])
    result = await ask_structured(model, QUESTION, verdict_schema(2))
    assert result.attempts == 2
    reask = model.calls[1].messages[-1].content
    assert reask.startswith("That reply was not valid")
    assert (hint in reask) if hint else ("cut off" not in reask)
