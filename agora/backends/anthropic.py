"""The official ``anthropic`` SDK. Spec ``anthropic:MODEL``; ``ANTHROPIC_API_KEY`` and ``ANTHROPIC_BASE_URL``
are honoured. Structured output is a forced tool call whose input schema is the requested schema.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from typing import Any

from pydantic import SecretStr

from agora.backends.base import Availability, Backend, backend
from agora.backends.sdk_errors import sdk_error
from agora.errors import BackendError, ConfigError
from agora.redaction import register_secret
from agora.types import Completion, Message, OutputSchema, Settings, Usage


@backend("anthropic")
class AnthropicBackend(Backend):
    """Messages API through ``anthropic.AsyncAnthropic``; one client per backend."""

    def __init__(self, model: str, base_url: str | None = None, api_key: str | None = None) -> None:
        super().__init__(model)
        if not model:
            raise ConfigError("anthropic spec needs a model name: anthropic:MODEL")
        self.base_url = base_url or os.environ.get("ANTHROPIC_BASE_URL") or None
        key = api_key or os.environ.get("ANTHROPIC_API_KEY")
        if not key:
            raise ConfigError(f"anthropic:{model}: no API key: set ANTHROPIC_API_KEY")
        self._api_key = SecretStr(key)
        register_secret(key)
        self._client: Any = None

    @classmethod
    def availability(cls) -> Availability:
        if os.environ.get("ANTHROPIC_API_KEY"):
            return Availability(True, "ANTHROPIC_API_KEY is set")
        return Availability(False, "set ANTHROPIC_API_KEY (and ANTHROPIC_BASE_URL for a proxy)")

    @property
    def client(self) -> Any:
        if self._client is None:
            import anthropic

            self._client = anthropic.AsyncAnthropic(
                api_key=self._api_key.get_secret_value(), base_url=self.base_url, max_retries=0
            )
        return self._client

    async def complete(
        self, messages: Sequence[Message], settings: Settings, schema: OutputSchema | None = None
    ) -> Completion:
        import anthropic

        system = "\n\n".join(m.content for m in messages if m.role == "system")
        request: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages if m.role != "system"],
            "max_tokens": settings.max_tokens,
            # anthropic>=1.0 dropped the sampling parameters from create()'s signature (TypeError);
            # extra_body puts them in the JSON body as before, with every SDK version.
            "extra_body": {"temperature": settings.temperature},
            "timeout": settings.timeout,
        }
        if system:
            request["system"] = system
        if settings.stop:
            request["stop_sequences"] = list(settings.stop)
        if schema is not None:
            request["tools"] = [
                {"name": schema.name, "description": "Record the answer.", "input_schema": schema.json_schema}
            ]
            request["tool_choice"] = {"type": "tool", "name": schema.name}
        start = time.perf_counter()
        try:
            reply = await self.client.messages.create(**request)
        except anthropic.AnthropicError as exc:
            raise sdk_error(exc, self.spec, anthropic) from None
        if schema is not None:
            tool_inputs = [b.input for b in reply.content if b.type == "tool_use" and b.name == schema.name]
            if not tool_inputs:
                raise BackendError(f"{self.spec}: reply has no {schema.name} tool call (stop: {reply.stop_reason})")
            text = json.dumps(tool_inputs[0])
        else:
            text = "".join(b.text for b in reply.content if b.type == "text")
        return Completion(
            text=text,
            model=self.spec,
            usage=Usage(prompt_tokens=reply.usage.input_tokens, completion_tokens=reply.usage.output_tokens),
            latency_s=time.perf_counter() - start,
            finish_reason=reply.stop_reason,
            output_mode="tool" if schema is not None else "text",
        )

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
