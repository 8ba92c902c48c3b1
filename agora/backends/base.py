"""The backend interface and the registry that turns a model spec string into a backend.

A spec is ``KIND`` or ``KIND:REST``: ``local``, ``local:/path/model.gguf``, ``openai:gpt-4o-mini``,
``openai:qwen@http://127.0.0.1:8080/v1``, ``anthropic:claude-sonnet-4-5``, ``langchain:pkg.mod:chat``,
``scripted:replies.json``. Provider SDKs are imported only when a backend of theirs is built.
"""

from __future__ import annotations

import difflib
import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from agora.errors import ConfigError
from agora.types import Completion, Message, OutputSchema, Settings


@dataclass(frozen=True)
class Availability:
    """Whether a backend can be used on this machine, and why not."""

    usable: bool
    reason: str


class Backend(ABC):
    """Turns messages and settings into a completion. Implementations raise ``agora.errors`` only."""

    kind: ClassVar[str] = ""

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

    @classmethod
    def from_spec(cls, rest: str, **options: Any) -> Backend:
        """Build the backend from the part of the spec after ``KIND:``."""
        return cls(rest, **options)

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

    async def aclose(self) -> None:
        await self.inner.aclose()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.inner!r}>"


B = TypeVar("B", bound=type[Backend])

_registry: dict[str, type[Backend]] = {}
_builtin: dict[str, str] = {
    "local": "agora.backends.local",
    "openai": "agora.backends.openai",
    "anthropic": "agora.backends.anthropic",
    "langchain": "agora.backends.langchain",
    "scripted": "agora.backends.scripted",
}


def backend(kind: str) -> Callable[[B], B]:
    """Register a backend class under ``kind`` so that ``KIND:...`` specs resolve to it."""

    def register(cls: B) -> B:
        cls.kind = kind
        _registry[kind] = cls
        return cls

    return register


def backend_class(kind: str) -> type[Backend]:
    """The backend class registered under ``kind``; built-in modules are imported on first use."""
    if kind not in _registry and kind in _builtin:
        importlib.import_module(_builtin[kind])
    if kind not in _registry:
        known = sorted(set(_registry) | set(_builtin))
        close = difflib.get_close_matches(kind, known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(known)})"
        raise ConfigError(f"unknown backend {kind!r}{hint}")
    return _registry[kind]


def backend_kinds() -> list[str]:
    """Every backend kind known, built-in and registered."""
    return sorted(set(_registry) | set(_builtin))


def build_backend(spec: str, **options: Any) -> Backend:
    """Build the raw backend that ``spec`` names (no retries, no logging)."""
    if not spec or not spec.strip():
        raise ConfigError("empty model spec")
    kind, _, rest = spec.strip().partition(":")
    try:
        cls = backend_class(kind)
    except ConfigError as exc:
        raise ConfigError(f"model spec {spec!r}: {exc}") from None
    return cls.from_spec(rest, **options)
