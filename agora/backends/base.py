"""The backend interface and the registry that turns a model spec string into a backend.

A spec is ``KIND`` or ``KIND:REST``: ``local``, ``local:/path/model.gguf``, ``openai:gpt-4o-mini``,
``openai:qwen@http://127.0.0.1:8080/v1``, ``anthropic:claude-sonnet-4-5``, ``langchain:pkg.mod:chat``,
``scripted:replies.json``. Provider SDKs are imported only when a backend of theirs is built.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from typing_extensions import Self

from agora.errors import ConfigError
from agora.registry import Registry
from agora.types import Completion, Message, OutputSchema, Settings


@dataclass(frozen=True)
class Availability:
    """Whether a backend can be used on this machine, and why not."""

    usable: bool
    reason: str


class Backend(ABC):
    """Turns messages and settings into a completion. Implementations raise ``agora.errors`` only."""

    kind: ClassVar[str] = ""
    times_calls: ClassVar[bool] = False
    """True for a backend that enforces ``settings.timeout`` itself (the embedded model from when it starts decoding a
    call, not from when the call was queued; the lean HTTP transport over the whole request); ``Retrying`` then adds
    no timeout of its own."""

    def __init__(self, model: str) -> None:
        self.model = model

    @property
    def spec(self) -> str:
        """The spec string that names this backend and model."""
        return f"{self.kind}:{self.model}" if self.model else self.kind

    @abstractmethod
    async def complete(
        self, messages: Sequence[Message], settings: Settings, schema: OutputSchema | None = None
    ) -> Completion:
        """Complete ``messages``; when ``schema`` is given, constrain the output to it where possible."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook, most backends hold nothing
        """Release clients and connections."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    @classmethod
    def from_spec(cls, rest: str, **options: Any) -> Backend:
        """Build the backend from the part of the spec after ``KIND:``."""
        return cls(rest, **options)

    @classmethod
    def check_spec(cls, rest: str) -> None:
        """Raise ``ConfigError`` for a spec that cannot name a model, without building anything or reading weights."""
        return

    @classmethod
    def availability(cls) -> Availability:
        """Whether this backend is usable here (SDK installed, key or server configured...)."""
        return Availability(True, "ready")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.spec}>"


class Wrapper(Backend):
    """A backend that adds behaviour around ``inner`` (retries, a cache ...) and passes the rest through."""

    def __init__(self, inner: Backend) -> None:
        super().__init__(inner.model)
        self.inner = inner

    @property
    def spec(self) -> str:
        return self.inner.spec

    @property
    def times_calls(self) -> bool:  # type: ignore[override]
        return self.inner.times_calls

    async def aclose(self) -> None:
        await self.inner.aclose()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.inner!r}>"


B = TypeVar("B", bound=type[Backend])

BACKENDS = Registry[type[Backend]](
    "backend",
    {
        "local": "agora.backends.local",
        "openai": "agora.backends.openai",
        "anthropic": "agora.backends.anthropic",
        "langchain": "agora.backends.langchain",
        "scripted": "agora.backends.scripted",
    },
)
"""Backend classes by kind, the part of a spec before the first ``:``; a built-in's module is imported on first use."""


def backend(kind: str) -> Callable[[B], B]:
    """Register a backend class under ``kind`` so that ``KIND:...`` specs resolve to it."""

    def register(cls: B) -> B:
        cls.kind = kind
        BACKENDS.add(kind, cls)
        return cls

    return register


def build_backend(spec: str, **options: Any) -> Backend:
    """Build the raw backend that ``spec`` names (no retries, no logging)."""
    cls, rest = _parsed(spec)
    return cls.from_spec(rest, **options)


def _parsed(spec: str) -> tuple[type[Backend], str]:
    """The backend class a spec names and the rest of the spec after ``KIND:``."""
    if not spec or not spec.strip():
        raise ConfigError("empty model spec")
    kind, _, rest = spec.strip().partition(":")
    try:
        return BACKENDS.get(kind), rest
    except ConfigError as exc:
        raise ConfigError(f"model spec {spec!r}: {exc}") from None
