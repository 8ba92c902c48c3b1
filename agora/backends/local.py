"""The embedded backend: a GGUF model run in-process by llama.cpp, every call on one model decoded together.

``local`` is the default model of the catalogue (``agora.weights``), ``local:NAME`` another catalogue
model, ``local:PATH.gguf`` any GGUF file. Structured output uses llama.cpp's JSON-schema grammar. Calls go
to the model's ``Decoder`` (``agora.backends.decoder``), shared by every backend on the same file, which
batches them and times each from when it starts decoding (``times_calls``).

A seeded reply does not depend on the calls decoded beside it. ``$AGORA_LOCAL_SLOTS`` sets how many calls
decode together (4: on 2 cores a decode call costs the least per row at about 4 rows).
(``benchmarks/local_throughput.py`` measures it against llama-cpp-python one call at a time).
"""

from __future__ import annotations

import asyncio
import atexit
import json
import os
import re
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

from agora.backends.base import Availability, Backend, backend
from agora.backends.decoder import Decoder, Request
from agora.types import Completion, Message, OutputSchema, Settings, Usage
from agora.weights import CATALOGUE, DEFAULT_MODEL, local_model, model_path

INSTALL_HINT = "pip install 'agora[local]'"

_decoders: dict[tuple[str, int, int], Decoder] = {}
_loading = threading.Lock()


def decoder(path: Path, context: int, slots: int) -> Decoder:
    """The one ``Decoder`` of a file and its shape, started on first use."""
    key = (str(path), context, slots)
    with _loading:
        if key not in _decoders:
            _decoders[key] = Decoder(path, context=context, slots=slots)
        return _decoders[key]


@atexit.register
def _close_decoders() -> None:
    """Stop the decoders before interpreter teardown (llama.cpp's finalisers fail once modules are gone)."""
    for each in _decoders.values():
        each.close()
    _decoders.clear()


# llama-cpp-python writes "up to n more" as n nested optional groups, "(char (char (char)?)?)?"; llama.cpp's parser
# recurses once per group and gives up on a string of ``maxLength`` 2000. Its own repetition, "char{0,n}", is flat.
_NESTED = re.compile(r"\(([\w-]+)(?: \(\1)*\)\?(?:\)\?)*")


def _flat(match: re.Match[str]) -> str:
    text, item = match.group(0), match.group(1)
    depth = text.count("(")
    return f"{item}{{0,{depth}}}" if text.count(")?") == depth else text


@lru_cache(maxsize=64)
def grammar(json_schema: str) -> str:
    """The llama.cpp grammar (GBNF) of a JSON schema, bounded repetitions written flat (``x{0,n}``)."""
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    return _NESTED.sub(_flat, json_schema_to_gbnf(json_schema))


@backend("local")
class LocalBackend(Backend):
    """A GGUF model in-process. Calls in flight together are decoded together."""

    times_calls: ClassVar[bool] = True

    def __init__(self, path: Path, name: str, n_ctx: int = 8192, slots: int | None = None) -> None:
        super().__init__(name)
        self.path = path
        self.n_ctx = n_ctx
        self.slots = slots or int(os.environ.get("AGORA_LOCAL_SLOTS", 0)) or 4

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

    @property
    def decoder(self) -> Decoder:
        return decoder(self.path, self.n_ctx, self.slots)

    async def complete(
        self, messages: Sequence[Message], settings: Settings, schema: OutputSchema | None = None
    ) -> Completion:
        engine = await asyncio.to_thread(lambda: self.decoder)
        request = Request(
            prompt=engine.tokens([{"role": m.role, "content": m.content} for m in messages]),
            max_tokens=settings.max_tokens,
            temperature=settings.temperature,
            seed=settings.seed,
            grammar=grammar(json.dumps(schema.json_schema)) if schema is not None else None,
            stop=tuple(settings.stop),
            timeout=settings.timeout,
            logprobs=settings.logprobs,
        )
        future = engine.submit(request)
        try:
            reply = await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            engine.cancel(request)
            raise
        return Completion(
            text=reply.text,
            model=self.spec,
            usage=Usage(
                prompt_tokens=reply.prompt_tokens,
                completion_tokens=reply.completion_tokens,
                reused_tokens=reply.reused_tokens,
            ),
            latency_s=reply.seconds,
            finish_reason=reply.finish_reason,
            output_mode="grammar" if schema is not None else "text",
            logprobs=reply.logprobs,
        )
