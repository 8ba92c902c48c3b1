"""Counters of model calls, tokens, retries and failures, for a run, an item or any block of code.

The runner says which meters the calls of a block count to; the backend wrappers (``Retrying``, the response
cache) count into every meter active where the call is made::

    run, item = Meter(), Meter()
    with metering(run):
        with metering(item):      # nesting adds meters: calls in here count to ``run`` and to ``item``
            await graph.ainvoke(state)
    item.as_dict()                # {"calls": 3, "failed": 0, "retries": 1, "cached": 0, ...}

The active meters live in a ``ContextVar``, so asyncio tasks created inside the block (LangGraph runs async
nodes as tasks) count to them too, and concurrent items each count to their own meter.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from agora.types import Completion

_active: ContextVar[tuple[Meter, ...]] = ContextVar("agora_meters", default=())


@dataclass
class Meter:
    """What the model calls of a block cost.

    Attributes:
        calls: model calls that returned a completion (each re-ask of a malformed reply is a call).
        failed: calls given up on after their retries, or failed for good.
        retries: attempts repeated after a transient error (rate limit, timeout, server error).
        cached: calls served by the response cache, without a model call; not in ``calls``.
        prompt_tokens: prompt tokens of the completed calls.
        completion_tokens: completion tokens of the completed calls.
        reused_tokens: of their prompt tokens, those the model reused from an earlier call instead of evaluating them
            (the embedded model's shared prefixes, a provider's prompt cache).
    """

    calls: int = 0
    failed: int = 0
    retries: int = 0
    cached: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reused_tokens: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counters, by name: for records and progress bars."""
        return dataclasses.asdict(self)

    def snapshot(self) -> Meter:
        """A copy of the counters as they are now."""
        return dataclasses.replace(self)

    def __add__(self, other: Meter) -> Meter:
        return Meter(**{k: v + getattr(other, k) for k, v in self.as_dict().items()})


@contextmanager
def metering(*meters: Meter) -> Iterator[tuple[Meter, ...]]:
    """Count the calls made inside the block (and in tasks it creates) to ``meters`` too; yields every active meter.

    A meter already active is not added twice, so no call is counted twice to it.
    """
    active = _active.get()
    token = _active.set(active + tuple(m for m in meters if not any(m is a for a in active)))
    try:
        yield _active.get()
    finally:
        _active.reset(token)


def active() -> tuple[Meter, ...]:
    """The meters that calls made here count to, outermost first."""
    return _active.get()


def count_call(completion: Completion) -> None:
    """Count a completed model call and its tokens."""
    for m in _active.get():
        m.calls += 1
        m.prompt_tokens += completion.usage.prompt_tokens
        m.completion_tokens += completion.usage.completion_tokens
        m.reused_tokens += completion.usage.reused_tokens


def count_retry() -> None:
    """Count one repeated attempt."""
    for m in _active.get():
        m.retries += 1


def count_failure() -> None:
    """Count a call given up on."""
    for m in _active.get():
        m.failed += 1


def count_cached(completion: Completion) -> None:
    """Count a call served by the cache (its tokens were billed by the run that made it, and are not counted)."""
    for m in _active.get():
        m.cached += 1
