"""A deterministic backend for fast tests: replies come from a list or a function, calls are recorded."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agora.backends.base import Backend, backend
from agora.errors import ConfigError, ExecutionError
from agora.types import Completion, Message, OutputSchema, Settings, Usage

Reply = str | Callable[[Sequence[Message]], str]


@dataclass(frozen=True)
class Call:
    """One call the scripted backend received."""

    messages: tuple[Message, ...]
    settings: Settings
    schema: OutputSchema | None


@backend("scripted")
class ScriptedBackend(Backend):
    """Replies with the scripted texts in order (or ``reply(messages)`` for a function).

    Token usage counts whitespace-separated words, so that accounting can be tested.
    """

    def __init__(self, replies: Sequence[Reply] | Callable[[Sequence[Message]], str], model: str = "") -> None:
        super().__init__(model)
        self._replies = replies
        self.calls: list[Call] = []

    @classmethod
    def from_spec(cls, rest: str, **options: Any) -> Backend:
        if not rest:
            raise ConfigError("scripted needs a replies file: scripted:PATH.json (a JSON list of strings)")
        path = Path(rest)
        try:
            replies = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read scripted replies: {exc}") from None
        if not isinstance(replies, list) or not all(isinstance(r, str) for r in replies):
            raise ConfigError(f"{path}: scripted replies must be a JSON list of strings")
        return cls(replies, model=rest)

    async def complete(
        self, messages: Sequence[Message], settings: Settings, schema: OutputSchema | None = None
    ) -> Completion:
        self.calls.append(Call(tuple(messages), settings, schema))
        if callable(self._replies):
            text = self._replies(messages)
        else:
            index = len(self.calls) - 1
            if index >= len(self._replies):
                raise ExecutionError(f"{self.spec}: script exhausted after {len(self._replies)} replies")
            reply = self._replies[index]
            text = reply(messages) if callable(reply) else reply
        prompt_words = sum(len(m.content.split()) for m in messages)
        return Completion(
            text=text,
            model=self.spec,
            usage=Usage(prompt_tokens=prompt_words, completion_tokens=len(text.split())),
            finish_reason="stop",
        )
