"""OpenAI itself, and any OpenAI-compatible server (vLLM, Ollama, llama.cpp), over the chat-completions API.

Spec ``openai:MODEL`` or ``openai:MODEL@BASE_URL``; ``OPENAI_BASE_URL`` and ``OPENAI_API_KEY`` are
honoured. Structured output asks for ``json_schema``; a server that refuses it (``llama_cpp.server``
answers HTTP 500) is asked for ``json_object`` with the schema, then for plain text, and the mode that
worked is remembered for the rest of the backend's life. Requests go through a ``Transport``
(``agora.backends.transport``): raw JSON over agora's lean HTTP client by default, the official ``openai`` SDK with
``AGORA_OPENAI_TRANSPORT=sdk``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

from pydantic import SecretStr

from agora.backends.base import Availability, Backend, backend
from agora.backends.sdk_errors import FORMAT_FALLBACK, refuses_format
from agora.backends.transport import StatusError, Transport, TransportName, transport, transport_name
from agora.errors import ConfigError
from agora.log import get_logger
from agora.redaction import register_secret
from agora.types import Completion, Message, OutputMode, OutputSchema, Settings, TokenLogprob, Usage

log = get_logger("agora.backends.openai")

NO_KEY = "sk-no-key-needed"


@backend("openai")
class OpenAIBackend(Backend):
    """Chat completions; one transport per backend, reused for every call.

    Args:
        model: the model's name on the server.
        base_url: the server's ``/v1`` URL (default ``$OPENAI_BASE_URL``, else OpenAI's).
        api_key: default ``$OPENAI_API_KEY``; a local server needs none.
        transport: ``lean`` or ``sdk`` (default ``$AGORA_OPENAI_TRANSPORT``, else ``lean``).
    """

    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        api_key: str | None = None,
        transport: TransportName | None = None,
    ) -> None:
        super().__init__(model)
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
        key = api_key or os.environ.get("OPENAI_API_KEY")
        if not key and not self.base_url:
            raise ConfigError(f"openai:{model}: no API key: set OPENAI_API_KEY, or give a base URL for a local server")
        self._api_key = SecretStr(key or NO_KEY)
        register_secret(key)
        self.transport_name = transport_name(transport)
        self._transport: Transport | None = None
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
    def times_calls(self) -> bool:  # type: ignore[override]
        """The lean transport bounds each call by ``settings.timeout`` itself (the reply's deadline), so the
        retrying wrapper spends no task of its own on it; the SDK's timeout bounds each phase, not the whole call."""
        return self.transport_name == "lean"

    @property
    def transport(self) -> Transport:
        """The transport, built on first use."""
        if self._transport is None:
            self._transport = transport(self.transport_name, self.spec, self.base_url, self._api_key.get_secret_value())
        return self._transport

    async def complete(
        self, messages: Sequence[Message], settings: Settings, schema: OutputSchema | None = None
    ) -> Completion:
        request: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "temperature": settings.temperature,
            "max_tokens": settings.max_tokens,
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
                reply = await self.transport.chat({**request, **_format(mode, schema)}, settings.timeout)
                break
            except StatusError as exc:
                if mode == "text" or not refuses_format(exc.status, exc.message):
                    raise exc.error(self.spec) from None
                log.info("openai.format_refused", model=self.spec, mode=mode, status=exc.status)
                mode = FORMAT_FALLBACK[mode]
        if schema is not None:
            self.schema_mode = mode
        return _completion(reply, self.spec, mode, time.perf_counter() - start)

    async def aclose(self) -> None:
        if self._transport is not None:
            await self._transport.aclose()
            self._transport = None


def _completion(reply: dict[str, Any], spec: str, mode: OutputMode, latency: float) -> Completion:
    """A chat-completions reply (JSON) as a ``Completion``."""
    choice = (reply.get("choices") or [{}])[0]
    usage = reply.get("usage") or {}
    details = usage.get("prompt_tokens_details") or {}
    return Completion(
        text=(choice.get("message") or {}).get("content") or "",
        model=spec,
        usage=Usage(
            prompt_tokens=usage.get("prompt_tokens") or 0,
            completion_tokens=usage.get("completion_tokens") or 0,
            reused_tokens=details.get("cached_tokens") or 0,
        ),
        latency_s=latency,
        finish_reason=choice.get("finish_reason"),
        output_mode=mode,
        logprobs=_logprobs(choice),
    )


def _logprobs(choice: dict[str, Any]) -> tuple[TokenLogprob, ...]:
    content = (choice.get("logprobs") or {}).get("content") or []
    return tuple(
        TokenLogprob(
            token=t["token"], logprob=t["logprob"], top={x["token"]: x["logprob"] for x in t.get("top_logprobs") or []}
        )
        for t in content
    )


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
