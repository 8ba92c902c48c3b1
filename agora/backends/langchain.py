"""Any LangChain ``BaseChatModel`` as a backend: passed as an object, or ``langchain:module:attr``."""

from __future__ import annotations

import importlib
import time
from collections.abc import Sequence
from typing import Any

from agora.backends.base import Availability, Backend, backend
from agora.errors import BackendError, ConfigError
from agora.types import Completion, Message, OutputSchema, Settings, Usage


@backend("langchain")
class LangChainBackend(Backend):
    """Calls a LangChain chat model. Sampling settings belong to the model object; ``stop`` is passed.

    LangChain has no provider-neutral constrained output, so structured requests use the prompt and
    ``agora.structured``'s parsing and re-asking.
    """

    def __init__(self, chat_model: Any, name: str) -> None:
        super().__init__(name)
        self.chat_model = chat_model

    @classmethod
    def wrap(cls, chat_model: Any) -> LangChainBackend:
        """Wrap a ``BaseChatModel`` object."""
        from langchain_core.language_models import BaseChatModel

        if not isinstance(chat_model, BaseChatModel):
            raise ConfigError(f"not a LangChain BaseChatModel: {type(chat_model).__name__}")
        return cls(chat_model, getattr(chat_model, "model_name", None) or type(chat_model).__name__)

    @classmethod
    def from_spec(cls, rest: str, **options: Any) -> Backend:
        module_name, _, attr = rest.partition(":")
        if not module_name or not attr:
            raise ConfigError(f"langchain spec needs module:attr, got {rest!r}")
        try:
            obj = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f"langchain:{rest}: cannot import: {exc}") from None
        if callable(obj) and not hasattr(obj, "ainvoke"):
            obj = obj()
        wrapped = cls.wrap(obj)
        wrapped.model = rest
        return wrapped

    @classmethod
    def availability(cls) -> Availability:
        return Availability(True, "pass a BaseChatModel from Python, or langchain:module:attr")

    async def complete(
        self, messages: Sequence[Message], settings: Settings, schema: OutputSchema | None = None
    ) -> Completion:
        from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

        kinds: dict[str, type[BaseMessage]] = {
            "system": SystemMessage,
            "user": HumanMessage,
            "assistant": AIMessage,
        }
        start = time.perf_counter()
        try:
            reply = await self.chat_model.ainvoke(
                [kinds[m.role](content=m.content) for m in messages], stop=list(settings.stop) or None
            )
        except Exception as exc:  # a user's model may raise anything; report it as a backend failure
            raise BackendError(f"{self.spec}: {type(exc).__name__}: {exc}") from exc
        meta = getattr(reply, "usage_metadata", None) or {}
        return Completion(
            text=str(reply.text),
            model=self.spec,
            usage=Usage(prompt_tokens=meta.get("input_tokens", 0), completion_tokens=meta.get("output_tokens", 0)),
            latency_s=time.perf_counter() - start,
            finish_reason=(getattr(reply, "response_metadata", None) or {}).get("finish_reason"),
        )
