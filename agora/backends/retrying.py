"""Retries, per-call timeouts, provider limits, meters and the one log event per model call, around any backend."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from agora import meter
from agora.backends.base import Backend, Wrapper
from agora.errors import AgoraError, BackendTimeout
from agora.log import enabled, get_logger
from agora.types import Completion, Message, OutputSchema, Settings

if TYPE_CHECKING:
    from agora.runner.limits import Gate

log = get_logger("agora.model")


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter; a provider's ``Retry-After`` hint wins over the backoff."""

    max_retries: int = 3
    base_delay: float = 0.5
    max_delay: float = 30.0
    jitter: float = 0.5
    timeouts: bool = False  # retry timeouts a backend marks as not worth retrying (an embedded model's)

    def retries(self, error: AgoraError) -> bool:
        """Whether ``error`` is worth another attempt under this policy."""
        return bool(getattr(error, "retryable", False)) or (self.timeouts and isinstance(error, BackendTimeout))

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay)
        backoff = min(self.base_delay * 2 ** (attempt - 1), self.max_delay)
        return backoff * (1 + self.jitter * random.random())


class Retrying(Wrapper):
    """Wraps a backend: bounds each call by ``settings.timeout``, retries transient errors, counts, logs.

    With a ``gate`` (the provider's limits), each attempt holds a slot of it while the inner call runs, and
    only then: not while it waits for the slot, nor while it sleeps before a retry. The timeout bounds the inner
    call alone, so a call queued behind others never times out for it; a call that times out frees its slot.
    A backend that ``times_calls`` (the embedded model, which queues calls itself) enforces the timeout itself.
    Completed calls and their tokens, retries and failures count to the active ``agora.meter`` meters.
    """

    def __init__(self, inner: Backend, policy: RetryPolicy = RetryPolicy(), gate: Gate | None = None) -> None:
        super().__init__(inner)
        self.policy = policy
        self.gate = gate

    async def complete(
        self, messages: Sequence[Message], settings: Settings, schema: OutputSchema | None = None
    ) -> Completion:
        start = time.perf_counter()
        retries = 0
        while True:
            try:
                completion = await self._attempt(messages, settings, schema)
            except AgoraError as exc:
                if not self.policy.retries(exc) or retries >= self.policy.max_retries:
                    meter.count_failure()
                    self._log(start, retries, schema, error=exc)
                    raise
                retries += 1
                meter.count_retry()
                await asyncio.sleep(self.policy.delay(retries, getattr(exc, "retry_after", None)))
                continue
            meter.count_call(completion)
            self._log(start, retries, schema, completion=completion)
            return completion.model_copy(update={"retries": retries}) if retries else completion

    async def _attempt(
        self, messages: Sequence[Message], settings: Settings, schema: OutputSchema | None
    ) -> Completion:
        """One try: a slot of the gate (waited for without a timeout), then the inner call bounded by the timeout."""
        if self.gate is None:
            return await self._call(messages, settings, schema)
        async with self.gate.slot(self.gate.estimate(messages, settings)) as slot:
            completion = await self._call(messages, settings, schema)
            if completion.usage.total_tokens:  # a backend that reports no usage keeps its estimate
                slot.settle(completion.usage.total_tokens)
            return completion

    async def _call(self, messages: Sequence[Message], settings: Settings, schema: OutputSchema | None) -> Completion:
        if self.inner.times_calls:
            return await self.inner.complete(messages, settings, schema)
        try:
            return await asyncio.wait_for(self.inner.complete(messages, settings, schema), settings.timeout)
        except asyncio.TimeoutError:
            raise BackendTimeout(f"{self.spec}: no reply within {settings.timeout:g} s") from None

    def _log(
        self,
        start: float,
        retries: int,
        schema: OutputSchema | None,
        completion: Completion | None = None,
        error: AgoraError | None = None,
    ) -> None:
        if completion is not None and not enabled("info"):
            return  # one event per call: not even built when it would be dropped
        fields = {
            "backend": self.inner.kind,
            "model": self.inner.model,
            "latency_ms": round((time.perf_counter() - start) * 1000, 1),
            "retries": retries,
            "schema": schema.name if schema else None,
        }
        if completion is not None:
            log.info(
                "model.call",
                **fields,
                prompt_tokens=completion.usage.prompt_tokens,
                completion_tokens=completion.usage.completion_tokens,
                output_mode=completion.output_mode,
            )
        else:
            log.warning("model.call", **fields, error=f"{type(error).__name__}: {error}")
