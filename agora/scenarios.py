"""Scenario files (``scenarios/*.yaml``): data, protocols, judges, models, jury policy, checks and limits of a study.

A scenario is validated in full before any model call. Every error is one line naming the file and the field:
``scenarios/x.yaml: jury.rule: unknown rule 'majorty' (did you mean 'majority'?)``. Paths resolve relative to the
scenario file; ``{data}`` in a path stands for the shared data directory (``$AGORA_DATA`` or ``../shared/data``).
"""

from __future__ import annotations

import difflib
import hashlib
import json
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from agora.errors import ConfigError

METRICS = ("accuracy", "calibration", "agreement", "coverage", "robustness", "paired", "ranking")
"""Metric families a scenario may ask for; reports compute them from the run store."""


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _resolve(value: Any, info: ValidationInfo) -> Any:
    """A path relative to the scenario file, with ``{data}`` standing for the shared data directory."""
    if value is None:
        return None
    from agora.aggregation.checks import data_dir

    text = str(value).replace("{data}", str(data_dir()))
    path = Path(text).expanduser()
    base = (info.context or {}).get("base")
    return path if path.is_absolute() or base is None else Path(base) / path


class DataSpec(_Spec):
    """One data source (see ``agora.loaders``)."""

    loader: str
    path: Path
    fields: dict[str, Any] = Field(default_factory=dict)
    limit: int | None = Field(default=None, ge=0)
    sample: int | None = Field(default=None, ge=1)
    seed: int | None = None
    on_malformed: Literal["skip", "fail"] = "skip"
    shuffle: bool | None = None
    name: str | None = None
    max_evidence_chars: int | None = Field(default=None, ge=100)

    @field_validator("loader")
    @classmethod
    def _known_loader(cls, name: str) -> str:
        from agora.loaders import get_loader

        _valid(get_loader, name)
        return name

    @field_validator("path", mode="before")
    @classmethod
    def _path(cls, value: Any, info: ValidationInfo) -> Any:
        path = _resolve(value, info)
        if not Path(path).is_file():
            raise ValueError(f"no such file: {path}")
        return path


class ModelsSpec(_Spec):
    """Model spec per role; a role without one uses ``default``."""

    default: str = "local"
    debater: str | None = None
    consultant: str | None = None
    judge: str | None = None

    @field_validator("*")
    @classmethod
    def _known_kind(cls, spec: str | None) -> str | None:
        if spec is not None:
            from agora.backends import backend_class

            if not spec.strip():
                raise ValueError("empty model spec")
            _valid(backend_class, spec.partition(":")[0])
        return spec

    def of(self, role: Literal["debater", "consultant", "judge"]) -> str:
        """The model spec of ``role``."""
        return getattr(self, role) or self.default


class JudgeSpec(_Spec):
    """One judge of the judging seat: a persona (or none), an optional model, a vote weight."""

    name: str | None = None
    persona: str | None = None
    model: str | None = None
    weight: float = Field(default=1.0, gt=0)

    @field_validator("persona")
    @classmethod
    def _known_persona(cls, name: str | None, info: ValidationInfo) -> str | None:
        if name is None:
            return None
        from agora.personas import load_persona

        if name.endswith((".yaml", ".yml")):
            name = str(_resolve(name, info))
        _valid(load_persona, name)
        return name


class JurySpec(_Spec):
    """How the judging seat's verdicts become a decision: the voting rule, the uncertainty thresholds, live checks."""

    rule: str = "majority"
    params: dict[str, Any] = Field(default_factory=dict)
    min_confidence: float = 0
    quorum: int = 1
    margin: float = 0
    on_failure: Literal["abstain", "replace"] = "abstain"
    checks: list[str] = Field(default_factory=list)

    @field_validator("rule")
    @classmethod
    def _known_rule(cls, name: str) -> str:
        from agora.aggregation.voting import rules

        if name not in rules():
            raise ValueError(f"unknown rule {name!r}{_hint(name, rules())}")
        return name

    @field_validator("checks")
    @classmethod
    def _live_checks(cls, names: list[str]) -> list[str]:
        from agora.aggregation.checks import live_check

        for name in names:
            _valid(live_check, name)
        return names

    @model_validator(mode="after")
    def _coherent(self) -> JurySpec:
        from agora.aggregation.voting import get_rule

        _valid(get_rule, self.rule, **self.params)
        _valid(self.thresholds)
        return self

    def thresholds(self) -> Any:
        """The policy as ``agora.aggregation.thresholds.Thresholds``."""
        from agora.aggregation.thresholds import Thresholds

        return Thresholds(self.min_confidence, self.quorum, self.margin, self.on_failure)


class _ArguedSpec(_Spec):
    """What debate and consultancy share: rounds of arguments of bounded length, sides assigned or chosen."""

    rounds: int = Field(default=2, ge=1)
    open: bool = False
    words: int = Field(default=150, ge=10)
    max_tokens: int = Field(default=400, ge=16)


class DebateSpec(_ArguedSpec):
    kind: Literal["debate"]
    name: str = "debate"
    simultaneous: bool = False


class ConsultancySpec(_ArguedSpec):
    kind: Literal["consultancy"]
    name: str = "consultancy"
    judge_questions: bool = True


class DirectQASpec(_Spec):
    kind: Literal["direct_qa"]
    name: str = "direct_qa"
    oracle: bool = False


class ProbesSpec(_Spec):
    kind: Literal["probes"]
    name: str = "probes"
    checks: list[str] = Field(min_length=1)

    @field_validator("checks")
    @classmethod
    def _probe_checks(cls, names: list[str]) -> list[str]:
        from agora.aggregation.checks import probe_check

        for name in names:
            _valid(probe_check, name)
        return names


ProtocolSpec = Annotated[DebateSpec | ConsultancySpec | DirectQASpec | ProbesSpec, Field(discriminator="kind")]
PROTOCOL_KINDS = ("debate", "consultancy", "direct_qa", "probes")


class SettingsSpec(_Spec):
    """Sampling settings of the judges; ``timeout`` bounds every model call."""

    temperature: float = Field(default=0.0, ge=0, le=2)
    max_tokens: int = Field(default=512, ge=16)
    timeout: float = Field(default=300.0, gt=0)


class LimitsSpec(_Spec):
    """The limits of one provider (a backend kind: ``openai``, ``anthropic``, ``local`` ...)."""

    concurrency: int | None = Field(default=None, ge=1)
    requests_per_minute: float | None = Field(default=None, gt=0)
    tokens_per_minute: float | None = Field(default=None, gt=0)


class RetrySpec(_Spec):
    max_retries: int = Field(default=3, ge=0)
    base_delay: float = Field(default=0.5, ge=0)
    max_delay: float = Field(default=30.0, ge=0)


class Scenario(_Spec):
    """A study: run every protocol on every item, judged by the judging seat."""

    name: str = Field(min_length=1)
    description: str = ""
    seed: int = 0
    data: list[DataSpec] = Field(min_length=1)
    models: ModelsSpec = Field(default_factory=ModelsSpec)
    judges: list[JudgeSpec] = Field(default_factory=lambda: [JudgeSpec()], min_length=1)
    jury: JurySpec = Field(default_factory=JurySpec)
    protocols: list[ProtocolSpec] = Field(min_length=1)
    settings: SettingsSpec = Field(default_factory=SettingsSpec)
    metrics: list[str] = Field(default_factory=lambda: list(METRICS))
    concurrency: int = Field(default=4, ge=1)
    limits: dict[str, LimitsSpec] = Field(default_factory=dict)
    retry: RetrySpec = Field(default_factory=RetrySpec)
    cache: bool | Path = True
    output: Path | None = None

    @field_validator("data", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, dict) else value

    @field_validator("protocols", mode="before")
    @classmethod
    def _known_kinds(cls, value: Any) -> Any:
        for entry in value if isinstance(value, list) else []:
            kind = entry.get("kind") if isinstance(entry, dict) else None
            if kind not in PROTOCOL_KINDS:
                raise ValueError(f"unknown protocol kind {kind!r}{_hint(str(kind), PROTOCOL_KINDS)}")
        return value

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, names: list[str]) -> list[str]:
        for name in names:
            if name not in METRICS:
                raise ValueError(f"unknown metric {name!r}{_hint(name, METRICS)}")
        return names

    @field_validator("limits")
    @classmethod
    def _known_providers(cls, limits: dict[str, LimitsSpec]) -> dict[str, LimitsSpec]:
        from agora.backends import backend_kinds

        for provider in limits:
            if provider not in backend_kinds():
                raise ValueError(f"unknown provider {provider!r}{_hint(provider, backend_kinds())}")
        return limits

    @field_validator("cache", "output", mode="before")
    @classmethod
    def _paths(cls, value: Any, info: ValidationInfo) -> Any:
        return value if isinstance(value, bool) else _resolve(value, info)

    @model_validator(mode="after")
    def _unique_names(self) -> Scenario:
        for what, names in (
            ("protocols", [p.name for p in self.protocols]),
            ("judges", [j.name or j.persona or "judge" for j in self.judges]),
            ("data", [d.name or d.path.stem for d in self.data]),
        ):
            twice = sorted({n for n in names if names.count(n) > 1})
            if twice:
                raise ValueError(f"{what}: names must be unique, {twice[0]!r} is used twice (set 'name')")
        return self

    def digest(self) -> str:
        """A hash of everything that decides the results (sha256 of the canonical JSON)."""
        return hashlib.sha256(json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()


def _valid(check: Any, *args: Any, **kwargs: Any) -> Any:
    """``check(*args, **kwargs)`` with a ``ConfigError`` turned into the ``ValueError`` pydantic reports by field."""
    try:
        return check(*args, **kwargs)
    except ConfigError as exc:
        raise ValueError(str(exc)) from None


def _hint(name: str, known: Any) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(sorted(known))})"


def load_scenario(path: Path | str) -> Scenario:
    """Read and validate the scenario at ``path``.

    Raises:
        ConfigError: one line naming the file and the field that is wrong.
    """
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the scenario: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}: {where}not valid YAML: {problem}".replace("\n", " ")) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a scenario must be a mapping, got {type(data).__name__}")
    data.setdefault("name", path.stem)
    return parse_scenario(data, path)


def parse_scenario(data: dict[str, Any], path: Path) -> Scenario:
    """Validate ``data`` read from ``path`` (paths in it resolve against ``path``'s directory)."""
    try:
        return Scenario.model_validate(data, context={"base": path.parent})
    except ValidationError as exc:
        error = exc.errors()[0]
        where = _where(error["loc"])
        raise ConfigError(f"{path}: {where + ': ' if where else ''}{_message(error)}") from None
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _where(loc: tuple[int | str, ...]) -> str:
    parts = [str(p) for p in loc if p not in PROTOCOL_KINDS or not isinstance(p, str)]
    return ".".join(parts)


def _message(error: Any) -> str:
    ctx = error.get("ctx") or {}
    cause = ctx.get("error")
    if isinstance(cause, ConfigError | ValueError):
        return str(cause)
    if error["type"] == "extra_forbidden":
        return "unknown field"
    return str(error["msg"]).removeprefix("Value error, ")
