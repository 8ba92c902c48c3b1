"""What every agent that speaks in a transcript has: a model, a name, the bounds of a turn and two prompt templates."""

from __future__ import annotations

from collections.abc import Sequence

from agora.backends import Backend, resolve_model
from agora.types import Message, Settings


class Speaker:
    """An agent that speaks in turns (debater, consultant, advocate, witness).

    ``settings`` bounds a turn's tokens and ``words`` its length as the prompt asks; ``system_prompt`` and
    ``user_prompt`` are ``str.format`` templates of the fields the subclass documents.
    """

    role = "speaker"

    def __init__(
        self,
        model: Backend | str,
        *,
        name: str,
        settings: Settings,
        words: int,
        system_prompt: str,
        user_prompt: str,
    ) -> None:
        self.model = resolve_model(model) if isinstance(model, str) else model
        self.name = name
        self.settings = settings
        self.words = words
        self.system_prompt = system_prompt
        self.user_prompt = user_prompt

    async def say(self, messages: Sequence[Message]) -> str:
        """The text of one turn on ``messages``."""
        completion = await self.model.complete(messages, self.settings)
        return completion.text.strip()
