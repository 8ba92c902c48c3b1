"""Retries, per-call timeouts and the one log event per model call, wrapped around any backend."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass

from agora.backends.base import Backend
from agora.errors import AgoraError, BackendTimeout
from agora.log import get_logger
from agora.types import Completion, Message, OutputSchema, Settings

log = get_logger("agora.model")


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter; a provider's ``Retry-After`` hint wins over the backoff."""

    max_retries: int = 3
    base_delay: float = 0.5
    max_delay: float = 30.0
    jitter: float = 0.5

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay)
        backoff = min(self.base_delay * 2 ** (attempt - 1), self.max_delay)
        return backoff * (1 + self.jitter * random.random())


class Retrying(Backend):
    """Wraps a backend: bounds each call by ``settings.timeout``, retries transient errors, logs."""

    def __init__(self, inner: Backend, policy: RetryPolicy = RetryPolicy()) -> None:
        super().__init__(inner.model)
        self.inner = inner
        self.policy = policy

    @property
    def spec(self) -> str:
        return self.inner.spec

    async def complete(
        self, messages: Sequence[Message], settings: Settings, schema: OutputSchema | None = None
    ) -> Completion:
        start = time.perf_counter()
        retries = 0
        while True:
            try:
                try:
                    completion = await asyncio.wait_for(
                        self.inner.complete(messages, settings, schema), settings.timeout
                    )
                except asyncio.TimeoutError:
                    raise BackendTimeout(f"{self.spec}: no reply within {settings.timeout:g} s") from None
            except AgoraError as exc:
                if not getattr(exc, "retryable", False) or retries >= self.policy.max_retries:
                    self._log(start, retries, schema, error=exc)
                    raise
                retries += 1
                await asyncio.sleep(self.policy.delay(retries, getattr(exc, "retry_after", None)))
                continue
            self._log(start, retries, schema, completion=completion)
            return completion.model_copy(update={"retries": retries}) if retries else completion

    def _log(
        self,
        start: float,
        retries: int,
        schema: OutputSchema | None,
        completion: Completion | None = None,
        error: AgoraError | None = None,
    ) -> None:
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

    async def aclose(self) -> None:
        await self.inner.aclose()

    def __repr__(self) -> str:
        return f"<Retrying {self.inner!r}>"
