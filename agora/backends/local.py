"""The embedded backend: a GGUF model run in-process by llama-cpp-python.

``local`` is the default model of the catalogue (``agora.weights``), ``local:NAME`` another catalogue
model, ``local:PATH.gguf`` any GGUF file. Structured output uses llama.cpp's JSON-schema grammar.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agora.backends.base import Availability, Backend, backend
from agora.errors import BackendError, ConfigError
from agora.types import Completion, Message, OutputSchema, Settings, Usage
from agora.weights import CATALOGUE, DEFAULT_MODEL, local_model, model_path

INSTALL_HINT = "pip install 'agora[local]'"

_loaded: dict[tuple[str, int], tuple[Any, threading.Lock]] = {}
_loading = threading.Lock()


def _llama(path: Path, n_ctx: int) -> tuple[Any, threading.Lock]:
    """One shared ``Llama`` per file and context size, with the lock that serialises its use."""
    key = (str(path), n_ctx)
    with _loading:
        if key not in _loaded:
            try:
                from llama_cpp import Llama
            except ImportError:
                raise ConfigError(f"the local backend needs llama-cpp-python: {INSTALL_HINT}") from None
            threads = int(os.environ.get("AGORA_THREADS", 0)) or os.cpu_count() or 1
            model = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=threads, verbose=False)
            _loaded[key] = (model, threading.Lock())
        return _loaded[key]


@atexit.register
def _free_models() -> None:
    """Free llama.cpp models before interpreter teardown (their finalisers fail once modules are gone)."""
    for model, _ in _loaded.values():
        model.close()
    _loaded.clear()


@backend("local")
class LocalBackend(Backend):
    """A GGUF model in-process; calls run in a worker thread, one at a time per model."""

    def __init__(self, path: Path, name: str, n_ctx: int = 8192) -> None:
        super().__init__(name)
        self.path = path
        self.n_ctx = n_ctx

    @classmethod
    def from_spec(cls, rest: str, **options: Any) -> Backend:
        found = local_model(rest)
        if isinstance(found, Path):
            return cls(found, rest, **options)
        return cls(model_path(found), found.name, **options)

    @classmethod
    def check_spec(cls, rest: str) -> None:
        local_model(rest)

    @classmethod
    def availability(cls) -> Availability:
        import importlib.util

        if importlib.util.find_spec("llama_cpp") is None:
            return Availability(False, f"llama-cpp-python is not installed: {INSTALL_HINT}")
        ready = [m.name for m in CATALOGUE.values() if not m.missing_parts()]
        if DEFAULT_MODEL not in ready:
            have = f"; installed: {', '.join(ready)}" if ready else ""
            return Availability(False, f"default model {DEFAULT_MODEL} not installed: {INSTALL_HINT}{have}")
        return Availability(True, f"models installed: {', '.join(ready)}; any .gguf via local:PATH")

    async def complete(
        self, messages: Sequence[Message], settings: Settings, schema: OutputSchema | None = None
    ) -> Completion:
        return await asyncio.to_thread(self._complete, messages, settings, schema)

    def _complete(self, messages: Sequence[Message], settings: Settings, schema: OutputSchema | None) -> Completion:
        llama, lock = _llama(self.path, self.n_ctx)
        kwargs: dict[str, Any] = {
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "temperature": settings.temperature,
            "max_tokens": settings.max_tokens,
            "stop": list(settings.stop) or None,
            "repeat_penalty": 1.0,
        }
        if settings.seed is not None:
            kwargs["seed"] = settings.seed
        if schema is not None:
            kwargs["response_format"] = {"type": "json_object", "schema": schema.json_schema}
        start = time.perf_counter()
        try:
            with lock:
                if settings.seed is not None:
                    # A seed asks for reproducibility: reusing the previous prompt's KV cache changes the numerics.
                    llama.reset()
                reply = llama.create_chat_completion(**kwargs)
        except ValueError as exc:  # llama.cpp reports context overflow and bad grammars as ValueError
            raise BackendError(f"{self.spec}: {exc}") from None
        choice = reply["choices"][0]
        usage = reply.get("usage") or {}
        return Completion(
            text=choice["message"].get("content") or "",
            model=self.spec,
            usage=Usage(
                prompt_tokens=usage.get("prompt_tokens", 0),
                completion_tokens=usage.get("completion_tokens", 0),
            ),
            latency_s=time.perf_counter() - start,
            finish_reason=choice.get("finish_reason"),
            output_mode="grammar" if schema is not None else "text",
        )
