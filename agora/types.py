"""The values that flow between backends, agents and the run store."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agora.errors import ConfigError

Role = Literal["system", "user", "assistant"]


class Message(BaseModel):
    """One chat message."""

    model_config = ConfigDict(frozen=True)

    role: Role
    content: str


def _message(role: Role, content: str) -> Message:
    """A message built without validation (the role is a literal, ``content`` must be a str): calls build several."""
    if not isinstance(content, str):
        raise TypeError(f"a message's content is a str, not {type(content).__name__}")
    return Message.model_construct(role=role, content=content)


def system(content: str) -> Message:
    """A system message."""
    return _message("system", content)


def user(content: str) -> Message:
    """A user message."""
    return _message("user", content)


def assistant(content: str) -> Message:
    """An assistant message."""
    return _message("assistant", content)


@dataclass(frozen=True)
class Settings:
    """Sampling and transport settings common to every backend.

    Raises:
        ConfigError: a value out of bounds (see ``setting_problem``), naming the field.
    """

    temperature: float = 0.0
    max_tokens: int = 512
    seed: int | None = None
    stop: tuple[str, ...] = ()
    timeout: float = 300.0
    logprobs: bool = False  # ask for token log-probabilities (backends that can give them: openai)

    def __post_init__(self) -> None:
        for name in ("temperature", "max_tokens", "timeout"):
            problem = setting_problem(name, getattr(self, name))
            if problem:
                raise ConfigError(f"{name}: {problem}")


def setting_problem(name: str, value: float) -> str | None:
    """Why ``value`` cannot be the setting ``name`` (``temperature`` 0 to 2, ``max_tokens`` 1 or more, ``timeout``
    a positive finite number of seconds), or None when it can."""
    if name == "temperature" and not 0 <= value <= 2:
        return f"must be between 0 and 2, got {value:g}"
    if name == "max_tokens" and not value >= 1:
        return f"must be 1 or more, got {value}"
    if name == "timeout" and not 0 < value < math.inf:
        return f"must be a positive number of seconds, got {value:g}"
    return None


@dataclass(frozen=True)
class OutputSchema:
    """A request for output that matches a JSON schema; each backend constrains it as best it can."""

    name: str
    json_schema: dict[str, Any] = field(hash=False)


class Usage(BaseModel):
    """Tokens billed for one or more calls."""

    model_config = ConfigDict(frozen=True)

    prompt_tokens: int = 0
    completion_tokens: int = 0
    reused_tokens: int = 0  # of the prompt tokens, those reused from an earlier call instead of evaluated

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            reused_tokens=self.reused_tokens + other.reused_tokens,
        )


class TokenLogprob(BaseModel):
    """One generated token, its log-probability and the most likely alternatives at its position."""

    model_config = ConfigDict(frozen=True)

    token: str
    logprob: float
    top: dict[str, float] = Field(default_factory=dict)


OutputMode = Literal["text", "json_schema", "json_object", "tool", "grammar"]


class Completion(BaseModel):
    """What a backend returns for one call."""

    model_config = ConfigDict(frozen=True)

    text: str
    model: str
    usage: Usage = Usage()
    latency_s: float = 0.0
    finish_reason: str | None = None
    output_mode: OutputMode = "text"
    retries: int = 0
    logprobs: tuple[TokenLogprob, ...] = ()


class Quote(BaseModel):
    """A passage an agent quoted from the evidence, and whether it was found there."""

    model_config = ConfigDict(frozen=True)

    text: str
    verified: bool
    score: float = Field(ge=0, le=1, description="similarity to the best-matching span of the evidence")


AgentRole = Literal["debater", "consultant", "judge", "juror", "human", "prosecution", "defence", "witness"]


class Turn(BaseModel):
    """One entry of a transcript: who spoke, in which round, what they said and which quotes it held."""

    model_config = ConfigDict(frozen=True)

    speaker: str
    role: AgentRole
    round: int
    text: str
    side: int | None = Field(default=None, description="0-based index of the answer the speaker argues")
    quotes: tuple[Quote, ...] = ()


class Verdict(BaseModel):
    """A judge's decision between candidate answers, as the judge stated it.

    ``probability`` is the model's own probability of the chosen answer, read from the token logprobs of the
    answer where a backend returns them; it is None otherwise, and no backend fills it yet. It is kept apart from
    ``confidence``, which is what the judge says. ``ranking`` is for judges that rank every answer (Borda count);
    when both are given, the first answer ranked is the choice.
    """

    choice: int | None = Field(ge=0, description="0-based index of the chosen answer; None when abstaining")
    confidence: float = Field(ge=0, le=100, description="the judge's verbal confidence, 0-100")
    reasoning: str
    abstained: bool = False
    probability: float | None = Field(
        default=None, ge=0, le=1, description="probability of the chosen answer from token logprobs, if known"
    )
    ranking: list[int] | None = Field(
        default=None, description="0-based answers best first; answers left out tie below those listed"
    )
    judge: str = "judge"
    persona: str | None = None
    model: str
    usage: Usage = Usage()
    attempts: int = 1
    error: str | None = Field(default=None, description="why a juror failed (it then abstains); None when it did not")
    method: str = Field(default="direct", description="the judging form: direct, scale, rubric or checklist")
    scores: list[float] | None = Field(default=None, description="each answer's score, from the scoring forms")
    criteria: dict[str, list[float]] | None = Field(
        default=None, description="a rubric's per-criterion scores, each answer's in answer order"
    )
    checklist: list[str] | None = Field(default=None, description="the yes/no questions each answer was graded on")
    flags: list[str] = Field(default_factory=list, description="what the method noticed (position-inconsistent ...)")
    readings: list[Verdict] = Field(
        default_factory=list, description="the verdicts of each sample and answer order this one combines"
    )

    @model_validator(mode="after")
    def _ranking_fits_choice(self) -> Verdict:
        """A ranking lists distinct answers and starts with the choice."""
        if self.ranking is not None:
            if len(set(self.ranking)) != len(self.ranking) or min(self.ranking, default=0) < 0:
                raise ValueError(f"ranking must list distinct 0-based answers, got {self.ranking}")
            if self.choice is not None and self.ranking[:1] != [self.choice]:
                raise ValueError(f"ranking {self.ranking} must start with the choice {self.choice}")
        return self


class Decision(BaseModel):
    """What an aggregator makes of a jury's verdicts."""

    outcome: int | Literal["inconclusive"] = Field(description="0-based index of the winning answer, or inconclusive")
    rule: str
    votes: list[float] = Field(description="each answer's total: votes, weights, points or probabilities")
    confidence: float | None = Field(default=None, description="mean stated confidence of the winning voters")
    probability: float | None = Field(
        default=None, ge=0, le=1, description="probability of the outcome, from rules that give one"
    )
    abstained: list[str] = Field(default_factory=list, description="jurors who abstained")
    dissent: list[str] = Field(default_factory=list, description="reasoning of jurors who voted against the outcome")
    flags: list[str] = Field(default_factory=list)
    stage: int | None = Field(default=None, ge=1, description="the 1-based cascade stage that decided; None outside")


PERSISTED: tuple[type[BaseModel], ...] = (Quote, Turn, Usage, Verdict, Decision)
"""The types graph state holds: a checkpointer under strict deserialization must be allowed to load each
(``agora.checkpoint``)."""
