"""Model backends: a small async interface, a registry of kinds, and ``resolve_model``."""

from __future__ import annotations

from typing import Any

from agora.backends.base import BACKENDS, Availability, Backend, backend, build_backend
from agora.backends.retrying import Retrying, RetryPolicy


def resolve_model(spec: str | Backend | Any, *, retry: RetryPolicy | None = RetryPolicy(), **options: Any) -> Backend:
    """Turn a spec string, a backend or a LangChain chat model into a ready backend.

    Args:
        spec: ``"local"``, ``"openai:gpt-4o-mini"``, ... (see ``agora.backends.base``), a ``Backend``, or a
            LangChain ``BaseChatModel`` object.
        retry: the retry policy wrapped around the backend; ``None`` for the raw backend.
        **options: passed to the backend (``base_url``, ``api_key``, ``n_ctx`` ...).
    """
    if isinstance(spec, Retrying):
        return spec
    if isinstance(spec, Backend):
        raw = spec
    elif isinstance(spec, str):
        raw = build_backend(spec, **options)
    else:
        from agora.backends.langchain import LangChainBackend

        raw = LangChainBackend.wrap(spec)
    return Retrying(raw, retry) if retry is not None else raw


__all__ = [
    "BACKENDS",
    "Availability",
    "Backend",
    "RetryPolicy",
    "Retrying",
    "backend",
    "build_backend",
    "resolve_model",
]
