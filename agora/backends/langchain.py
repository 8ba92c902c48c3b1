"""Any LangChain chat model as a backend: a ``BaseChatModel``, or ``chat.bind(...)`` of one, passed as an object, or
``langchain:module:attr``.

Structured requests use the model's own structured output: what its ``with_structured_output(method="json_schema")``
binds (``response_format`` for OpenAI-compatible models), else its JSON mode (``method="json_mode"``), else the
prompt alone; the mode that worked is remembered for the backend's life, and ``agora.structured`` parses and re-asks
whatever comes back. ``temperature``, ``max_tokens`` and ``seed`` are set on a copy of the model (every integration
reads its own fields for each request; call kwargs reach the request in only some of them), where it has such a
field; ``stop`` is passed to the call; ``timeout`` bounds each call through ``Retrying`` (``resolve_model``). The
user's object is never changed, and kwargs it was bound with win over the settings.
"""

from __future__ import annotations

import importlib
import json
import time
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from agora.backends.base import Availability, Backend, backend
from agora.backends.sdk_errors import FORMAT_FALLBACK, refuses_format, retry_after, status_error
from agora.errors import AgoraError, BackendError, BackendTimeout, BackendUnavailable, ConfigError
from agora.log import get_logger
from agora.redaction import redact
from agora.types import Completion, Message, OutputMode, OutputSchema, Settings, Usage

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import BaseMessage
    from langchain_core.runnables import Runnable

log = get_logger("agora.backends.langchain")

_METHOD: dict[OutputMode, str] = {"json_schema": "json_schema", "json_object": "json_mode"}
_FIELDS: dict[str, tuple[str, ...]] = {
    "temperature": ("temperature",),
    "max_tokens": ("max_tokens", "max_output_tokens", "num_predict", "max_new_tokens"),
    "seed": ("seed", "random_seed"),
}
"""The model fields that carry each setting, by the names LangChain integrations give them."""

Format = tuple["BaseChatModel", dict[str, Any]]
"""A chat model and the call kwargs that ask it for an output mode (none for text)."""


@backend("langchain")
class LangChainBackend(Backend):
    """Calls a LangChain chat model, or a binding of one (``chat.bind(...)``, ``chat.with_config(...)``).

    Args:
        chat_model: the user's object, used as given (never changed).
        name: the model's name in the spec (default: the model's ``model_name`` or ``model``, else its class name).

    Raises:
        ConfigError: ``chat_model`` is not a chat model or bindings over one.
    """

    def __init__(self, chat_model: Any, name: str | None = None) -> None:
        self.base = _chat_model_of(chat_model)
        named = [getattr(self.base, field, None) for field in ("model_name", "model")]
        super().__init__(name or next((n for n in named if isinstance(n, str) and n), type(self.base).__name__))
        self.chat_model = chat_model
        self.schema_mode: OutputMode = "json_schema"
        self._formats: dict[tuple[OutputMode, OutputSchema], Format | None] = {}

    @classmethod
    def wrap(cls, chat_model: Any) -> LangChainBackend:
        """Wrap a ``BaseChatModel``, or bindings over one.

        Raises:
            ConfigError: anything else, such as a ``with_structured_output(...)`` runnable or a ``prompt | chat`` chain.
        """
        return cls(chat_model)

    @classmethod
    def from_spec(cls, rest: str, **options: Any) -> Backend:
        module_name, _, attr = rest.partition(":")
        if not module_name or not attr:
            raise ConfigError(f"langchain spec needs module:attr, got {rest!r}")
        try:
            obj = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f"langchain:{rest}: cannot import: {exc}") from None
        if isinstance(obj, type) or (callable(obj) and not hasattr(obj, "ainvoke")):  # a factory, or a model class
            try:
                obj = obj()
            except Exception as exc:  # a user's factory may raise anything
                raise ConfigError(f"langchain:{rest}: {attr}() failed: {type(exc).__name__}: {_detail(exc)}") from None
        wrapped = cls.wrap(obj)
        wrapped.model = rest
        return wrapped

    @classmethod
    def availability(cls) -> Availability:
        return Availability(True, "pass a BaseChatModel (or chat.bind(...)) from Python, or langchain:module:attr")

    async def complete(
        self, messages: Sequence[Message], settings: Settings, schema: OutputSchema | None = None
    ) -> Completion:
        chat = _chat_messages(messages)
        stop: dict[str, Any] = {"stop": list(settings.stop)} if settings.stop else {}  # absent: a bound stop stays
        mode: OutputMode = self.schema_mode if schema is not None else "text"
        start = time.perf_counter()
        while True:
            found = self._format(mode, schema)
            if found is None:
                mode = FORMAT_FALLBACK[mode]
                continue
            try:
                reply = await self._runnable(found, settings).ainvoke(chat, **stop)
                break
            except Exception as exc:  # a user's model may raise anything; report it as a backend failure
                if mode == "text" or not refuses_format(_status(exc), _detail(exc)):
                    raise _error(exc, self.spec) from exc
                log.info("langchain.format_refused", model=self.spec, mode=mode, error=_detail(exc))
                mode = FORMAT_FALLBACK[mode]
        if schema is not None:
            self.schema_mode = mode
        return _completion(reply, self.spec, mode, time.perf_counter() - start)

    def _format(self, mode: OutputMode, schema: OutputSchema | None) -> Format | None:
        """The model and kwargs for ``mode`` (built once per mode and schema); None when the model has no such mode."""
        if mode == "text" or schema is None:
            return self.base, {}
        key = (mode, schema)
        if key not in self._formats:
            self._formats[key] = _structured(self.base, mode, schema)
            if self._formats[key] is None:
                log.info("langchain.format_unsupported", model=self.spec, mode=mode)
        return self._formats[key]

    def _runnable(self, found: Format, settings: Settings) -> Runnable[Any, Any]:
        """The user's runnable over a copy of the model that carries ``settings``, asked for the format."""
        model, kwargs = found
        values = {"temperature": settings.temperature, "max_tokens": settings.max_tokens, "seed": settings.seed}
        fields = _setting_fields(type(model)).items()
        update = {field: values[setting] for setting, field in fields if values[setting] is not None}
        runnable = _rebound(self.chat_model, model.model_copy(update=update) if update else model)
        return runnable.bind(**kwargs) if kwargs else runnable


def _chat_model_of(obj: Any) -> BaseChatModel:
    """The ``BaseChatModel`` under any bindings of ``obj``.

    Raises:
        ConfigError: ``obj`` is not a chat model or bindings over one.
    """
    from langchain_core.language_models import BaseChatModel
    from langchain_core.runnables.base import RunnableBindingBase

    base = obj
    while isinstance(base, RunnableBindingBase):
        base = base.bound
    if not isinstance(base, BaseChatModel):
        raise ConfigError(
            f"not a LangChain BaseChatModel: {type(obj).__name__} (pass a chat model or chat.bind(...) of one; "
            "with_structured_output(...) and other chains are refused: agora asks for structured output itself)"
        )
    return base


def _rebound(runnable: Any, model: BaseChatModel) -> Runnable[Any, Any]:
    """``runnable`` (a chat model, or bindings over one) with its chat model replaced by ``model``."""
    from langchain_core.runnables.base import RunnableBindingBase

    if isinstance(runnable, RunnableBindingBase):
        return runnable.model_copy(update={"bound": _rebound(runnable.bound, model)})
    return model


def _structured(model: BaseChatModel, mode: OutputMode, schema: OutputSchema) -> Format | None:
    """What ``model.with_structured_output`` binds for ``mode``: the model bound and the kwargs; None when it has no
    such mode (it raises, or binds nothing agora can call for the raw reply)."""
    try:
        runnable = model.with_structured_output(
            {**schema.json_schema, "title": schema.name}, method=_METHOD[mode], include_raw=True
        )
    except (NotImplementedError, ValueError, TypeError):
        return None
    binding = _chat_binding(runnable)
    return None if binding is None else (binding.bound, dict(binding.kwargs))


def _chat_binding(runnable: Any) -> Any:
    """The first binding of a chat model inside ``runnable`` (a ``with_structured_output`` pipeline), or None."""
    from langchain_core.language_models import BaseChatModel
    from langchain_core.runnables import RunnableParallel, RunnableSequence
    from langchain_core.runnables.base import RunnableBindingBase

    if isinstance(runnable, RunnableBindingBase):
        return runnable if isinstance(runnable.bound, BaseChatModel) else _chat_binding(runnable.bound)
    if isinstance(runnable, RunnableSequence):
        children: list[Any] = runnable.steps
    elif isinstance(runnable, RunnableParallel):
        children = list(runnable.steps__.values())
    else:
        return None
    return next((b for b in map(_chat_binding, children) if b is not None), None)


@lru_cache(maxsize=64)
def _setting_fields(model_class: type[BaseChatModel]) -> dict[str, str]:
    """The field of ``model_class`` that carries each setting it has one for."""
    fields = model_class.model_fields
    return {
        setting: next(name for name in names if name in fields)
        for setting, names in _FIELDS.items()
        if any(name in fields for name in names)
    }


def _chat_messages(messages: Sequence[Message]) -> list[BaseMessage]:
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

    kinds: dict[str, type[BaseMessage]] = {"system": SystemMessage, "user": HumanMessage, "assistant": AIMessage}
    return [kinds[m.role](content=m.content) for m in messages]


def _completion(reply: Any, spec: str, mode: OutputMode, latency: float) -> Completion:
    """A LangChain ``AIMessage`` as a ``Completion``; a structured reply given as a tool call is its arguments."""
    text = str(reply.text)
    calls = getattr(reply, "tool_calls", None) or []
    if not text.strip() and calls:
        text, mode = json.dumps(calls[0].get("args") or {}), "tool"
    meta = getattr(reply, "response_metadata", None) or {}
    reason = meta.get("finish_reason") or meta.get("stop_reason") or meta.get("done_reason")
    return Completion(
        text=text,
        model=spec,
        usage=_usage(reply, meta),
        latency_s=latency,
        finish_reason="length" if reason == "max_tokens" else reason,
        output_mode=mode,
    )


def _usage(reply: Any, meta: dict[str, Any]) -> Usage:
    """Tokens from the message's ``usage_metadata``, else from the provider's usage in its response metadata."""
    usage = getattr(reply, "usage_metadata", None)
    if usage:
        details = usage.get("input_token_details") or {}
        return Usage(
            prompt_tokens=usage.get("input_tokens") or 0,
            completion_tokens=usage.get("output_tokens") or 0,
            reused_tokens=details.get("cache_read") or 0,
        )
    raw = meta.get("token_usage") or meta.get("usage") or {}
    return Usage(
        prompt_tokens=raw.get("prompt_tokens") or raw.get("input_tokens") or 0,
        completion_tokens=raw.get("completion_tokens") or raw.get("output_tokens") or 0,
    )


def _status(exc: Exception) -> int | None:
    """The HTTP status an integration's exception carries (``openai``, ``anthropic``, ``ollama``...), if any."""
    status = getattr(exc, "status_code", None)
    return status if isinstance(status, int) else None


def _detail(exc: Exception) -> str:
    return redact(" ".join(str(getattr(exc, "message", None) or exc).split()))


def _error(exc: Exception, spec: str) -> AgoraError:
    """The agora error for an exception a chat model raised: by its HTTP status where it carries one."""
    status = _status(exc)
    if status is not None:
        headers = getattr(getattr(exc, "response", None), "headers", None) or {}
        return status_error(spec, status, _detail(exc), retry_after(headers.get("retry-after")))
    if isinstance(exc, TimeoutError) or type(exc).__name__.endswith("TimeoutError"):
        return BackendTimeout(f"{spec}: request timed out")
    if isinstance(exc, ConnectionError) or type(exc).__name__.endswith("ConnectionError"):
        return BackendUnavailable(f"{spec}: cannot connect: {_detail(exc)}")
    return BackendError(f"{spec}: {type(exc).__name__}: {_detail(exc)}")
