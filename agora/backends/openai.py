"""The official ``openai`` SDK: OpenAI itself, and any OpenAI-compatible server (vLLM, Ollama, llama.cpp).

Spec ``openai:MODEL`` or ``openai:MODEL@BASE_URL``; ``OPENAI_BASE_URL`` and ``OPENAI_API_KEY`` are
honoured. Structured output asks for ``json_schema``; a server that refuses it (``llama_cpp.server``
answers HTTP 500) is asked for ``json_object`` with the schema, then for plain text, and the mode that
worked is remembered for the rest of the backend's life.

Each connection holds a file descriptor: a client's pool is bounded to a quarter of the process's soft limit on open
descriptors (256 of the common 1,024; at most the SDK's 1,000), so that a run with a few clients stays under it, and
calls beyond the pool wait for a connection instead of failing to open one. Every connection of the pool is kept
alive between calls (the SDK keeps 100), so a busy pool does not reconnect for each call.
"""

from __future__ import annotations

import importlib
import os
import resource
import time
from collections.abc import Sequence
from typing import Any

from pydantic import SecretStr

from agora.backends.base import Availability, Backend, backend
from agora.backends.sdk_errors import sdk_error
from agora.errors import ConfigError
from agora.log import get_logger
from agora.redaction import register_secret
from agora.types import Completion, Message, OutputMode, OutputSchema, Settings, TokenLogprob, Usage

log = get_logger("agora.backends.openai")

_FALLBACK: dict[OutputMode, OutputMode] = {"json_schema": "json_object", "json_object": "text"}
NO_KEY = "sk-no-key-needed"
MAX_CONNECTIONS = 1000  # the SDK's own bound
DESCRIPTOR_SHARE = 4  # a client's pool takes at most this fraction (1/4) of the descriptors


@backend("openai")
class OpenAIBackend(Backend):
    """Chat completions through ``openai.AsyncOpenAI``; one client per backend, reused for every call."""

    def __init__(self, model: str, base_url: str | None = None, api_key: str | None = None) -> None:
        super().__init__(model)
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
        key = api_key or os.environ.get("OPENAI_API_KEY")
        if not key and not self.base_url:
            raise ConfigError(f"openai:{model}: no API key: set OPENAI_API_KEY, or give a base URL for a local server")
        self._api_key = SecretStr(key or NO_KEY)
        register_secret(key)
        self._client: Any = None
        self.schema_mode: OutputMode = "json_schema"

    @classmethod
    def from_spec(cls, rest: str, **options: Any) -> Backend:
        model, at, url = rest.partition("@")
        if not model:
            raise ConfigError("openai spec needs a model name: openai:MODEL or openai:MODEL@BASE_URL")
        if at:
            options["base_url"] = url
        return cls(model, **options)

    @classmethod
    def availability(cls) -> Availability:
        if os.environ.get("OPENAI_API_KEY"):
            return Availability(True, "OPENAI_API_KEY is set")
        if os.environ.get("OPENAI_BASE_URL"):
            return Availability(True, f"OPENAI_BASE_URL is set ({os.environ['OPENAI_BASE_URL']})")
        return Availability(
            False, "set OPENAI_API_KEY, or OPENAI_BASE_URL / --base-url / openai:MODEL@URL for a server"
        )

    @property
    def client(self) -> Any:
        if self._client is None:
            import openai

            connections = pool_size()
            log.debug("openai.pool", model=self.spec, connections=connections)
            http = openai.DefaultAsyncHttpxClient
            self._client = openai.AsyncOpenAI(
                api_key=self._api_key.get_secret_value(),
                base_url=self.base_url,
                max_retries=0,
                http_client=http(limits=_limits(http, connections)),
            )
        return self._client

    async def complete(
        self, messages: Sequence[Message], settings: Settings, schema: OutputSchema | None = None
    ) -> Completion:
        import openai

        request: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "temperature": settings.temperature,
            "max_tokens": settings.max_tokens,
            "timeout": settings.timeout,
        }
        if settings.seed is not None:
            request["seed"] = settings.seed
        if settings.stop:
            request["stop"] = list(settings.stop)
        if settings.logprobs:
            request["logprobs"] = True
            request["top_logprobs"] = 5
        mode: OutputMode = self.schema_mode if schema is not None else "text"
        start = time.perf_counter()
        while True:
            try:
                reply = await self.client.chat.completions.create(**request, **_format(mode, schema))
                break
            except openai.APIStatusError as exc:
                if mode == "text" or not _refuses_format(exc):
                    raise sdk_error(exc, self.spec, openai) from None
                log.info("openai.format_refused", model=self.spec, mode=mode, status=exc.status_code)
                mode = _FALLBACK[mode]
            except openai.OpenAIError as exc:
                raise sdk_error(exc, self.spec, openai) from None
        if schema is not None:
            self.schema_mode = mode
        choice = reply.choices[0]
        usage = reply.usage
        return Completion(
            text=choice.message.content or "",
            model=self.spec,
            usage=Usage(
                prompt_tokens=usage.prompt_tokens if usage else 0,
                completion_tokens=usage.completion_tokens if usage else 0,
                reused_tokens=getattr(getattr(usage, "prompt_tokens_details", None), "cached_tokens", None) or 0,
            ),
            latency_s=time.perf_counter() - start,
            finish_reason=choice.finish_reason,
            output_mode=mode,
            logprobs=_logprobs(choice),
        )

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None


def pool_size() -> int:
    """Connections a client may hold open: ``MAX_CONNECTIONS``, or fewer to stay within its share of descriptors."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return MAX_CONNECTIONS
    return max(1, min(MAX_CONNECTIONS, soft // DESCRIPTOR_SHARE))


def _limits(client: type, connections: int) -> Any:
    """``Limits`` of ``connections``, all kept alive, from the HTTP library whose ``AsyncClient`` ``client`` extends
    (``httpx``; ``httpx2`` in newer SDKs)."""
    base = next(cls for cls in client.__mro__ if cls.__name__ == "AsyncClient")
    library = importlib.import_module(base.__module__.partition(".")[0])
    return library.Limits(max_connections=connections, max_keepalive_connections=connections)


def _logprobs(choice: Any) -> tuple[TokenLogprob, ...]:
    content = getattr(getattr(choice, "logprobs", None), "content", None) or []
    return tuple(
        TokenLogprob(token=t.token, logprob=t.logprob, top={x.token: x.logprob for x in t.top_logprobs or []})
        for t in content
    )


def _refuses_format(exc: Any) -> bool:
    """Whether an error reads as the server refusing the response format (not as a transient failure)."""
    if exc.status_code in (400, 422):
        return True
    message = str(exc.message).lower()
    return exc.status_code in (500, 501) and ("json" in message or "response_format" in message)


def _format(mode: OutputMode, schema: OutputSchema | None) -> dict[str, Any]:
    if schema is None or mode == "text":
        return {}
    if mode == "json_schema":
        return {
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": schema.name, "schema": schema.json_schema},
            }
        }
    return {"response_format": {"type": "json_object", "schema": schema.json_schema}}
