"""Ask a model for a pydantic object and get a validated one back, or a ``VerdictParseError``.

The backend constrains the output natively where it can (OpenAI ``json_schema``, Anthropic tool use,
llama.cpp schema grammar, ``json_object`` + schema for ``llama_cpp.server``). Whatever comes back is
parsed strictly, then from a code fence, then from the first JSON object in prose, and validated. A
reply that does not validate is answered with the validation error and re-asked a bounded number of
times. Nothing is ever filled in: a field the model did not give is an error, not a default.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from agora.backends.base import Backend
from agora.errors import VerdictParseError
from agora.types import Completion, Message, OutputSchema, Settings, Usage, assistant, user

T = TypeVar("T", bound=BaseModel)

_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.DOTALL)


@dataclass(frozen=True)
class Structured(Generic[T]):
    """A validated object and the calls it took."""

    value: T
    completions: tuple[Completion, ...]

    @property
    def attempts(self) -> int:
        return len(self.completions)

    @property
    def usage(self) -> Usage:
        total = Usage()
        for c in self.completions:
            total = total + c.usage
        return total

    @property
    def raw(self) -> str:
        return self.completions[-1].text


def extract_json(text: str) -> dict[str, Any]:
    """The JSON object in ``text``: the whole text, else a fenced block, else the first object in prose.

    Raises:
        ValueError: no JSON object could be found.
    """
    candidates = [text.strip(), *(m.group(1).strip() for m in _FENCE.finditer(text))]
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            return value
    decoder = json.JSONDecoder()
    for match in re.finditer(r"\{", text):
        try:
            value, _ = decoder.raw_decode(text, match.start())
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            return value
    raise ValueError("no JSON object found in the reply")


def describe_errors(exc: ValidationError) -> str:
    """A one-line summary of a pydantic validation error: ``field: message; ...``."""
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "object"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


@lru_cache(maxsize=256)
def output_schema(schema: type[BaseModel]) -> OutputSchema:
    """The JSON schema a backend is asked to follow for ``schema`` (built once per class: pydantic takes a
    millisecond to generate it)."""
    return OutputSchema(name=schema.__name__, json_schema=schema.model_json_schema())


@lru_cache(maxsize=256)
def schema_instruction(schema: OutputSchema) -> str:
    """The instruction appended to the prompt, so that even unconstrained models see the schema."""
    fields = ", ".join(schema.json_schema.get("properties", {}))
    return (
        "Reply with only a JSON object (no other text) that follows this JSON schema, "
        f"with the fields in this order: {fields}.\n{json.dumps(schema.json_schema)}"
    )


async def ask_structured(
    model: Backend,
    messages: Sequence[Message],
    schema: type[T],
    settings: Settings = Settings(),
    *,
    max_reasks: int = 2,
    context: Mapping[str, Any] | None = None,
    tail: str = "",
) -> Structured[T]:
    """Ask ``model`` for an instance of ``schema``.

    Args:
        model: the backend to ask.
        messages: the conversation; the schema instruction is appended to the last user message.
        schema: the pydantic model to fill. Put reasoning fields before answer fields.
        settings: sampling settings.
        max_reasks: how many times to re-ask with the validation error after the first attempt.
        context: pydantic validation context (e.g. the number of candidate answers).
        tail: text after the schema instruction (a juror's persona: what differs between calls goes last).

    Raises:
        VerdictParseError: no valid object after ``1 + max_reasks`` attempts; carries the last raw text.
    """
    wanted = output_schema(schema)
    conversation = with_instruction(list(messages), schema_instruction(wanted) + tail)
    completions: list[Completion] = []
    problem = ""
    for _ in range(1 + max_reasks):
        completion = await model.complete(conversation, settings, wanted)
        completions.append(completion)
        try:
            value = schema.model_validate(extract_json(completion.text), context=dict(context or {}))
            return Structured(value, tuple(completions))
        except ValidationError as exc:
            problem = describe_errors(exc)
        except ValueError as exc:
            problem = str(exc)
        if completion.finish_reason == "length":
            problem += " (the reply was cut off at the token limit: keep the reasoning short)"
        elif completion.finish_reason == "repetition":
            problem += " (the reply was cut off because it kept repeating itself: keep the reasoning short)"
        conversation += [
            assistant(completion.text),
            user(f"That reply was not valid: {problem}. Reply again with only the corrected JSON object."),
        ]
    raw = completions[-1].text
    raise VerdictParseError(
        f"{model.spec}: no valid {schema.__name__} after {len(completions)} attempts: {problem}",
        raw=raw,
        attempts=len(completions),
    )


def with_instruction(messages: list[Message], instruction: str) -> list[Message]:
    """``messages`` with ``instruction`` appended to the last user message (or as a new one)."""
    for i in range(len(messages) - 1, -1, -1):
        if messages[i].role == "user":
            messages[i] = user(f"{messages[i].content}\n\n{instruction}")
            return messages
    return [*messages, user(instruction)]
