"""The limits of a provider: calls in flight, requests and tokens per minute, shared by all its backends.

A ``Gate`` holds one provider's limits; a call takes a slot before it goes out and gives it back when it ends::

    gates = Gates({"openai": Limits(concurrency=16, requests_per_minute=500, tokens_per_minute=200_000)})
    gate = gates.for_backend(backend)                 # every backend of the provider shares this gate
    async with gate.slot(estimate_tokens(messages, settings)) as slot:
        completion = await backend.complete(messages, settings)
        slot.settle(completion.usage.total_tokens)    # correct the estimate with the real usage

Rates are token buckets refilled continuously at ``per_minute / 60`` a second that bank at most one second's
worth (and at least one request): calls are paced evenly instead of bursting a minute's budget at once, which
providers that enforce limits over shorter windows would refuse. Waiters are served first come, first served.

A call estimated above the bucket never deadlocks: it goes when the bucket is full and leaves it in debt, so the
calls after it wait until the rate over time is back under the limit. Estimates are corrected after the call
(``Slot.settle``): an overestimate (``max_tokens`` is an upper bound) is refunded, an underestimate is charged.

Why not ``aiolimiter``: its ``AsyncLimiter.acquire`` rejects amounts above the bucket size and below zero, so it
can neither let a large call through nor refund an overestimate.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agora.errors import ConfigError
from agora.types import Message, Settings

CHARS_PER_TOKEN = 4
BURST_SECONDS = 1.0


def estimate_tokens(messages: Sequence[Message], settings: Settings) -> int:
    """Tokens a call may bill, estimated before it: the prompt's characters / 4, plus ``settings.max_tokens``."""
    return sum(len(m.content) for m in messages) // CHARS_PER_TOKEN + settings.max_tokens


@dataclass(frozen=True)
class Limits:
    """The limits of one provider; ``None`` is no limit.

    Attributes:
        concurrency: calls in flight at most.
        requests_per_minute: calls started per minute.
        tokens_per_minute: tokens (prompt + completion) per minute, estimated before the call, corrected after.
    """

    concurrency: int | None = None
    requests_per_minute: float | None = None
    tokens_per_minute: float | None = None

    def __post_init__(self) -> None:
        for name in ("concurrency", "requests_per_minute", "tokens_per_minute"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ConfigError(f"limits: {name} must be positive, got {value}")


class _Bucket:
    """A token bucket that may run into debt; ``clock`` and ``sleep`` are replaceable for tests."""

    def __init__(self, per_minute: float, clock: Callable[[], float], sleep: Callable[[float], Awaitable[Any]]):
        self.rate = per_minute / 60
        self.capacity = max(self.rate * BURST_SECONDS, 1.0)
        self.level = self.capacity
        self._clock, self._sleep = clock, sleep
        self._stamp = clock()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self.level = min(self.capacity, self.level + (now - self._stamp) * self.rate)
        self._stamp = now

    async def take(self, amount: float) -> None:
        """Wait until ``amount`` (or a full bucket, for more) is there, then take it, first come first served."""
        need = min(amount, self.capacity)
        async with self._lock:
            self._refill()
            while self.level < need:
                await self._sleep((need - self.level) / self.rate)
                self._refill()
            self.level -= amount

    def charge(self, amount: float) -> None:
        """Take ``amount`` more without waiting (a negative amount refunds)."""
        self._refill()
        self.level = min(self.capacity, self.level - amount)


class Slot:
    """A call's place in a gate; ``tokens`` is what the gate has charged for it so far."""

    def __init__(self, bucket: _Bucket | None, tokens: int) -> None:
        self._bucket = bucket
        self.tokens = tokens

    def settle(self, used_tokens: int) -> None:
        """Correct the charge to the tokens the call really used (refunds an overestimate); idempotent."""
        if self._bucket is not None:
            self._bucket.charge(used_tokens - self.tokens)
        self.tokens = used_tokens


class Gate:
    """The limits of one provider, shared by every backend of it.

    Args:
        limits: the provider's limits.
        name: the provider, for messages and progress.
        shared: semaphores held too by every call through this gate (the global concurrency cap of ``Gates``).
        clock: monotonic seconds; with ``sleep``, replaceable to test the schedule in logical time.
        sleep: awaits the given seconds.
    """

    def __init__(
        self,
        limits: Limits = Limits(),
        *,
        name: str = "",
        shared: Sequence[asyncio.Semaphore] = (),
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.limits = limits
        self.name = name
        own = [asyncio.Semaphore(limits.concurrency)] if limits.concurrency else []
        self._semaphores = (*own, *shared)
        rpm, tpm = limits.requests_per_minute, limits.tokens_per_minute
        self._requests = _Bucket(rpm, clock, sleep) if rpm else None
        self._tokens = _Bucket(tpm, clock, sleep) if tpm else None
        self.waiting = 0
        self.in_flight = 0

    @staticmethod
    def estimate(messages: Sequence[Message], settings: Settings) -> int:
        """``estimate_tokens``: the tokens to take a slot for."""
        return estimate_tokens(messages, settings)

    def slot(self, tokens: int = 0) -> Held:
        """Wait for a free place in flight, then for the request and token budgets; hold the place in the block.

        The wait has no timeout of its own: a caller bounds the call inside the block, not its time in the queue.
        Leaving the block (return, error, cancellation) frees the place; the tokens taken stay spent unless settled.
        """
        return Held(self, tokens)

    def __repr__(self) -> str:
        return f"<Gate {self.name or '?'} {self.limits} in_flight={self.in_flight} waiting={self.waiting}>"


class Held:
    """A call's hold on a gate's slot: ``async with`` waits for it and frees it (a class, not a generator: it is
    entered once a model call)."""

    def __init__(self, gate: Gate, tokens: int) -> None:
        self._gate = gate
        self._tokens = tokens
        self._held: list[asyncio.Semaphore] = []

    async def __aenter__(self) -> Slot:
        gate = self._gate
        gate.waiting += 1
        try:
            for semaphore in gate._semaphores:
                await semaphore.acquire()
                self._held.append(semaphore)
            if gate._requests is not None:
                await gate._requests.take(1)
            if gate._tokens is not None:
                await gate._tokens.take(self._tokens)
        except BaseException:
            self._release()
            raise
        finally:
            gate.waiting -= 1
        gate.in_flight += 1
        return Slot(gate._tokens, self._tokens)

    async def __aexit__(self, *exc: object) -> None:
        self._gate.in_flight -= 1
        self._release()

    def _release(self) -> None:
        while self._held:
            self._held.pop().release()


def provider(backend: Any) -> str:
    """The provider a backend calls: its kind, plus ``@BASE_URL`` when it has one (a local server is not OpenAI)."""
    base_url = getattr(backend, "base_url", None)
    return f"{backend.kind}@{base_url}" if base_url else str(backend.kind)


class Gates:
    """One gate per provider, built on first use, and a cap on the calls in flight across all of them.

    Args:
        limits: the limits by provider: a backend kind (``openai``) or kind and base URL (``openai@http://...``).
            A provider with a base URL and no limits of its own gets those of its kind, in a gate of its own.
        concurrency: calls in flight at most across every provider; ``None`` is no cap.
    """

    def __init__(self, limits: Mapping[str, Limits] | None = None, *, concurrency: int | None = None) -> None:
        if concurrency is not None and concurrency < 1:
            raise ConfigError(f"limits: global concurrency must be positive, got {concurrency}")
        self.limits = dict(limits or {})
        self._shared = (asyncio.Semaphore(concurrency),) if concurrency else ()
        self._gates: dict[str, Gate] = {}

    def gate(self, name: str) -> Gate:
        """The gate of provider ``name`` (``kind`` or ``kind@base_url``); the same object every time."""
        if name not in self._gates:
            limits = self.limits.get(name) or self.limits.get(name.partition("@")[0]) or Limits()
            self._gates[name] = Gate(limits, name=name, shared=self._shared)
        return self._gates[name]

    def for_backend(self, backend: Any) -> Gate:
        """The gate of the provider that ``backend`` (a raw backend, before wrappers) calls."""
        return self.gate(provider(backend))

    def __iter__(self) -> Iterator[Gate]:
        """The gates built so far."""
        return iter(self._gates.values())
