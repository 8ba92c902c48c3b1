"""Provider limits (``agora.runner.limits``), meters (``agora.meter``) and how ``Retrying`` uses both.

Rates are checked on a logical clock (``Clock``: sleeping advances it at once), so the schedule is exact and
the tests take no time; concurrency and timeouts run on the real clock with small numbers.
"""

from __future__ import annotations

import asyncio
import operator
import time
from collections.abc import Sequence
from typing import Annotated, Any, TypedDict

import pytest
from langgraph.graph import END, START, StateGraph

from agora import meter
from agora.backends import Backend, Retrying, RetryPolicy
from agora.backends.openai import OpenAIBackend
from agora.errors import BackendError, BackendTimeout, ConfigError, RateLimited
from agora.meter import Meter, metering
from agora.runner.limits import Gate, Gates, Limits, estimate_tokens, provider
from agora.types import Completion, Message, OutputSchema, Settings, Usage, user
from tests.fixtures.fake_server import FakeServer

HELLO = [user("hello")]
NO_RETRY = RetryPolicy(max_retries=0)
FAST = RetryPolicy(max_retries=3, base_delay=0.001)


class Clock:
    """Logical time: ``sleep`` advances it and yields once."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


class Instrumented(Backend):
    """Answers after ``delay`` seconds (the first ``hang`` calls: never); tracks calls in flight."""

    kind = "instrumented"

    def __init__(
        self, delay: float = 0.0, *, hang: int = 0, errors: Sequence[BackendError] = (), usage: Usage | None = None
    ) -> None:
        super().__init__("m")
        self.delay, self.hang, self.errors, self.usage = delay, hang, list(errors), usage or Usage()
        self.in_flight = self.max_in_flight = self.calls = 0
        self.started: list[float] = []

    async def complete(
        self, messages: Sequence[Message], settings: Settings, schema: OutputSchema | None = None
    ) -> Completion:
        self.calls += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        self.started.append(time.monotonic())
        try:
            if self.hang:
                self.hang -= 1
                await asyncio.sleep(3600)
            if self.errors:
                raise self.errors.pop(0)
            await asyncio.sleep(self.delay)
            return Completion(text=messages[-1].content, model=self.spec, usage=self.usage)
        finally:
            self.in_flight -= 1


# -- limits


def test_limits_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="limits: concurrency must be positive, got 0"):
        Limits(concurrency=0)
    with pytest.raises(ConfigError, match="tokens_per_minute must be positive"):
        Limits(tokens_per_minute=-1)


def test_tokens_are_estimated_from_characters_and_max_tokens() -> None:
    assert estimate_tokens([user("x" * 40), user("y" * 3)], Settings(max_tokens=10)) == 43 // 4 + 10


async def test_the_gate_bounds_calls_in_flight() -> None:
    gate = Gate(Limits(concurrency=3))
    inner = Instrumented(delay=0.01)
    model = Retrying(inner, NO_RETRY, gate=gate)
    await asyncio.gather(*(model.complete([user(f"q{i}")], Settings()) for i in range(12)))
    assert (inner.calls, inner.max_in_flight) == (12, 3)
    assert (gate.in_flight, gate.waiting) == (0, 0)


async def test_the_gate_bounds_calls_in_flight_at_the_server(fake_server: FakeServer) -> None:
    fake_server.latency = 0.03
    model = Retrying(OpenAIBackend("fake", base_url=fake_server.url), NO_RETRY, gate=Gate(Limits(concurrency=3)))
    try:
        await asyncio.gather(*(model.complete([user(f"q{i}")], Settings(max_tokens=8)) for i in range(9)))
    finally:
        await model.aclose()
    assert fake_server.totals() == {"ok": 9}
    assert 2 <= fake_server.max_in_flight <= 3


async def test_a_global_cap_bounds_calls_across_providers() -> None:
    gates = Gates({"a": Limits(concurrency=5), "b": Limits(concurrency=5)}, concurrency=2)
    shared = {"now": 0, "max": 0}

    class Counting(Instrumented):
        async def complete(self, *args: Any, **kwargs: Any) -> Completion:
            shared["now"] += 1
            shared["max"] = max(shared["max"], shared["now"])
            try:
                return await super().complete(*args, **kwargs)
            finally:
                shared["now"] -= 1

    models = [Retrying(Counting(delay=0.01), NO_RETRY, gate=gates.gate(name)) for name in ("a", "b")]
    await asyncio.gather(*(models[i % 2].complete([user(f"q{i}")], Settings()) for i in range(10)))
    assert shared["max"] == 2


async def test_requests_per_minute_pace_a_burst() -> None:
    """120 a minute is 2 a second, with a second's worth banked: the 3rd call of a burst waits half a second."""
    clock = Clock()
    gate = Gate(Limits(requests_per_minute=120), clock=clock, sleep=clock.sleep)
    starts: list[float] = []

    async def call() -> None:
        async with gate.slot():
            starts.append(clock.now)

    await asyncio.gather(*(call() for _ in range(5)))
    assert starts == pytest.approx([0, 0, 0.5, 1.0, 1.5])


async def test_requests_per_minute_through_retrying() -> None:
    clock = Clock()
    inner = Instrumented()
    model = Retrying(inner, NO_RETRY, gate=Gate(Limits(requests_per_minute=60), clock=clock, sleep=clock.sleep))
    times = []
    for i in range(3):
        await model.complete([user(f"q{i}")], Settings())
        times.append(clock.now)
    assert times == pytest.approx([0, 1, 2])


async def test_requests_per_minute_on_the_real_clock() -> None:
    gate = Gate(Limits(requests_per_minute=600))  # 10 a second, 10 banked: the 12th waits 0.2 s
    start = time.monotonic()
    starts = []

    async def call() -> None:
        async with gate.slot():
            starts.append(time.monotonic() - start)

    await asyncio.gather(*(call() for _ in range(12)))
    assert max(starts[:10]) < 0.05
    assert starts[10] >= 0.09 and starts[11] >= 0.19


async def test_tokens_per_minute_pace_calls_by_their_estimate() -> None:
    clock = Clock()  # 600 a minute: 10 tokens a second, 10 banked
    gate = Gate(Limits(tokens_per_minute=600), clock=clock, sleep=clock.sleep)
    starts: list[float] = []

    async def call(tokens: int) -> None:
        async with gate.slot(tokens):
            starts.append(clock.now)

    await asyncio.gather(*(call(5) for _ in range(4)))
    assert starts == pytest.approx([0, 0, 0.5, 1.0])


async def test_settling_refunds_an_overestimate_and_charges_an_underestimate() -> None:
    clock = Clock()
    gate = Gate(Limits(tokens_per_minute=600), clock=clock, sleep=clock.sleep)
    async with gate.slot(8) as slot:
        slot.settle(2)
    async with gate.slot(8):  # 10 - 2 = 8 left: no wait
        assert clock.now == 0
    async with gate.slot(0) as slot:
        slot.settle(10)  # used 10 where it said 0: 0 - 10 = -10, in debt
    async with gate.slot(5):
        assert clock.now == pytest.approx(1.5)


async def test_a_call_larger_than_the_budget_goes_alone_and_leaves_debt() -> None:
    clock = Clock()
    gate = Gate(Limits(tokens_per_minute=600), clock=clock, sleep=clock.sleep)
    async with gate.slot(1):
        pass
    async with gate.slot(100):  # more than a minute... of the 10 banked: waits for a full bucket, then goes
        assert clock.now == pytest.approx(0.1)
    async with gate.slot(5):  # 10 - 100 = -90: 9.5 s to get back to 5
        assert clock.now == pytest.approx(9.6)


async def test_retrying_settles_tokens_with_the_reported_usage() -> None:
    clock = Clock()
    settings = Settings(max_tokens=4)  # estimate: 0 prompt + 4, of 10 banked

    async def schedule(usage: Usage) -> list[float]:
        gate = Gate(Limits(tokens_per_minute=600), clock=clock, sleep=clock.sleep)
        model = Retrying(Instrumented(usage=usage), NO_RETRY, gate=gate)
        clock.now, times = 0.0, []
        for _ in range(4):
            await model.complete([user("")], settings)
            times.append(clock.now)
        return times

    assert await schedule(Usage(prompt_tokens=1, completion_tokens=1)) == [0, 0, 0, 0]
    assert await schedule(Usage()) == pytest.approx([0, 0, 0.2, 0.6])  # no usage reported: the estimate stands


async def test_queueing_for_a_slot_does_not_count_against_the_timeout() -> None:
    inner = Instrumented(delay=0.1)
    model = Retrying(inner, NO_RETRY, gate=Gate(Limits(concurrency=1)))
    start = time.monotonic()
    completions = await asyncio.gather(*(model.complete([user(f"q{i}")], Settings(timeout=0.25)) for i in range(4)))
    assert time.monotonic() - start >= 0.4  # the last call queued 0.3 s, longer than its timeout
    assert [c.retries for c in completions] == [0, 0, 0, 0]


async def test_a_hung_call_frees_its_slot_when_it_times_out() -> None:
    gate = Gate(Limits(concurrency=1))
    inner = Instrumented(hang=1)
    model = Retrying(inner, NO_RETRY, gate=gate)
    hung, queued = await asyncio.gather(
        model.complete([user("first")], Settings(timeout=0.1)),
        model.complete([user("second")], Settings(timeout=0.1)),
        return_exceptions=True,
    )
    assert isinstance(hung, BackendTimeout)
    assert isinstance(queued, Completion) and queued.text == "second"
    assert (gate.in_flight, inner.in_flight, inner.max_in_flight) == (0, 0, 1)


async def test_a_retry_waits_for_its_backoff_without_holding_the_slot() -> None:
    gate = Gate(Limits(concurrency=1))
    inner = Instrumented(errors=[RateLimited("429", retry_after=0.2)])
    model = Retrying(inner, FAST, gate=gate)
    order: list[str] = []

    async def call(text: str) -> None:
        await model.complete([user(text)], Settings())
        order.append(text)

    await asyncio.gather(call("limited"), call("other"))
    assert order == ["other", "limited"]
    assert inner.started[1] - inner.started[0] < 0.1  # "other" went while "limited" slept


def test_gates_are_shared_by_provider() -> None:
    gates = Gates({"openai": Limits(concurrency=4)})
    a = OpenAIBackend("x", base_url="http://127.0.0.1:9/v1")
    b = OpenAIBackend("y", base_url="http://127.0.0.1:9/v1")
    c = OpenAIBackend("x", base_url="http://127.0.0.1:10/v1")
    assert provider(a) == "openai@http://127.0.0.1:9/v1"
    assert gates.for_backend(a) is gates.for_backend(b) is gates.gate("openai@http://127.0.0.1:9/v1")
    assert gates.for_backend(c) is not gates.for_backend(a)
    assert gates.for_backend(c).limits == Limits(concurrency=4)  # its kind's limits, in a gate of its own
    assert gates.gate("openai") is gates.gate("openai") and gates.gate("anthropic").limits == Limits()
    assert {g.name for g in gates} == {
        "openai@http://127.0.0.1:9/v1",
        "openai@http://127.0.0.1:10/v1",
        "openai",
        "anthropic",
    }


# -- meters


async def test_meters_count_per_block_with_nesting_and_concurrent_items() -> None:
    model = Retrying(Instrumented(usage=Usage(prompt_tokens=3, completion_tokens=2)), NO_RETRY)
    run = Meter()
    items = [Meter() for _ in range(4)]

    async def item(i: int) -> None:
        with metering(items[i]):
            await asyncio.sleep(0.01 * (4 - i))  # interleave the items
            await asyncio.gather(*(model.complete([user(f"{i}.{n}")], Settings()) for n in range(i + 1)))

    with metering(run) as active:
        assert active == (run,)
        await asyncio.gather(*(item(i) for i in range(4)))
        await model.complete(HELLO, Settings())  # the run's own call: no item's
    await model.complete(HELLO, Settings())  # outside every block: no meter's

    assert [m.calls for m in items] == [1, 2, 3, 4]
    assert items[3].as_dict() == {
        "calls": 4, "failed": 0, "retries": 0, "cached": 0,
        "prompt_tokens": 12, "completion_tokens": 8, "reused_tokens": 0,
    }  # fmt: skip
    assert (run.calls, run.prompt_tokens, run.completion_tokens) == (11, 33, 22)
    assert run == sum(items, Meter()) + Meter(calls=1, prompt_tokens=3, completion_tokens=2)
    assert meter.active() == ()


async def test_meters_count_retries_failures_and_cache_hits() -> None:
    run, item = Meter(), Meter()
    with metering(run), metering(item, run):  # a meter active twice counts once
        await Retrying(Instrumented(errors=[RateLimited("429", retry_after=0)]), FAST).complete(HELLO, Settings())
        with pytest.raises(BackendError):
            await Retrying(Instrumented(errors=[BackendError("400")]), FAST).complete(HELLO, Settings())
        with pytest.raises(BackendTimeout):
            await Retrying(Instrumented(hang=2), RetryPolicy(max_retries=1, base_delay=0)).complete(
                HELLO, Settings(timeout=0.02)
            )
        meter.count_cached(Completion(text="hit", model="m"))
    expected = {
        "calls": 1,
        "failed": 2,
        "retries": 2,
        "cached": 1,
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "reused_tokens": 0,
    }
    assert run.as_dict() == item.as_dict() == expected
    snapshot = run.snapshot()
    run.calls += 1
    assert snapshot.calls == 1


async def test_meters_follow_calls_into_langgraph_nodes() -> None:
    """LangGraph runs parallel async nodes as tasks; they inherit the block's meters."""
    model = Retrying(Instrumented(delay=0.01), NO_RETRY)

    class State(TypedDict):
        texts: Annotated[list[str], operator.add]

    def node(name: str) -> Any:
        async def run(state: State) -> dict[str, Any]:
            return {"texts": [(await model.complete([user(name)], Settings())).text]}

        return run

    builder = StateGraph(State)
    for name in ("a", "b", "c"):
        builder.add_node(name, node(name))
        builder.add_edge(START, name)
        builder.add_edge(name, END)
    graph = builder.compile()

    meters = [Meter(), Meter()]

    async def item(m: Meter) -> list[str]:
        with metering(m):
            return (await graph.ainvoke({"texts": []}))["texts"]

    results = await asyncio.gather(*(item(m) for m in meters))
    assert [sorted(r) for r in results] == [["a", "b", "c"]] * 2
    assert [m.calls for m in meters] == [3, 3]
