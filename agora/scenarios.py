"""Scenario files (``scenarios/*.yaml``): data, protocols, judges, models, jury policy, checks and limits of a study.

A scenario is validated in full before any model call. Every error is one line naming the file and the field:
``scenarios/x.yaml: jury.rule: unknown rule 'majorty' (did you mean 'majority'?)``. Paths resolve relative to the
scenario file; ``{data}`` in a path stands for the data directory (``$AGORA_DATA``, else ``agora/data``).
In a file, ``cache`` and ``output`` must be paths a run can write. ``check_data`` reads the data files through, as
``agora run`` and ``agora scenarios`` do before anything starts: a file without a usable item is an error.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    SerializeAsAny,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
    model_validator,
)

from agora.aggregation.checks import live_check
from agora.aggregation.fitting import check_fit, needs_fit
from agora.aggregation.thresholds import Thresholds
from agora.aggregation.voting import RULES, seat_rule, takes_weights
from agora.backends import BACKENDS
from agora.config_file import Spec, check_writable, checked, checked_each, read_mapping, validate
from agora.errors import ConfigError
from agora.items import Item
from agora.loaders import Source, count, read
from agora.methods import form_of
from agora.paths import cache_dir, resolve
from agora.personas import load_persona
from agora.protocols.kinds import PROTOCOLS, ArguedSpec, ProtocolSpec
from agora.redaction import redact_data
from agora.registry import hint

METRICS = ("accuracy", "calibration", "agreement", "coverage", "robustness", "paired", "ranking")
"""Metric families a scenario may ask for; reports compute them from the run store."""


def _model_spec(spec: str | None) -> str | None:
    """``spec`` once its backend kind is known and the backend accepts the rest (a local file must be GGUF)."""
    if spec is not None:
        if not spec.strip():
            raise ValueError("empty model spec")
        kind, _, rest = spec.partition(":")
        checked(checked(BACKENDS.get, kind).check_spec, rest)
    return spec


class ModelsSpec(Spec):
    """Model spec per role; a role without one uses ``default``. ``debaters`` (two or more) makes a tournament: the
    debaters and consultants of every protocol with sides are those models, under every assignment of them to the
    sides (``swap_sides``)."""

    default: str = "local"
    debater: str | None = None
    debaters: list[str] | None = None
    consultant: str | None = None
    judge: str | None = None

    @field_validator("default", "debater", "consultant", "judge")
    @classmethod
    def _known_kind(cls, spec: str | None) -> str | None:
        return _model_spec(spec)

    @field_validator("debaters")
    @classmethod
    def _tournament(cls, specs: list[str] | None) -> list[str] | None:
        if specs is None:
            return None
        if len(specs) < 2:
            raise ValueError(f"a tournament needs at least two debater models, got {len(specs)}")
        twice = sorted({s for s in specs if specs.count(s) > 1})
        if twice:
            raise ValueError(f"{twice[0]!r} is listed twice (a tournament rates each model once)")
        for spec in specs:
            _model_spec(spec)
        return specs

    @model_validator(mode="after")
    def _one_source_of_debaters(self) -> ModelsSpec:
        if self.debaters:
            for role in ("debater", "consultant"):
                if getattr(self, role) is not None:
                    raise ValueError(f"{role}: a tournament's {role}s are models.debaters; give one or the other")
        return self

    def of(self, role: Literal["debater", "consultant", "judge"]) -> str:
        """The model spec of ``role`` (a tournament's first debater model for a debater or consultant)."""
        if self.debaters and role != "judge":
            return self.debaters[0]
        return getattr(self, role) or self.default

    def players(self, role: Literal["debater", "consultant"]) -> list[str]:
        """The models that argue as ``role``: a tournament's debater models, else the role's one model."""
        return list(self.debaters) if self.debaters else [self.of(role)]


class JudgeSpec(Spec):
    """One judge of the judging seat: a persona (or none), an optional model, a vote weight, and its judging method
    (see ``agora.methods``): pointwise ``scale`` scores, a ``rubric`` file, a ``checklist``, the letter at once
    (``reasoning: false``), the item field it reads as a ``reference`` answer, ``samples`` for self-consistency,
    ``swap`` for both answer orders; ``logprobs`` reads the model's probability of its letter where the backend
    gives one."""

    name: str | None = None
    persona: str | None = None
    model: str | None = None
    weight: float = Field(default=1.0, gt=0)
    scale: int | None = Field(default=None, ge=2)
    rubric: str | None = None
    checklist: bool = False
    reasoning: bool = True
    logprobs: bool = False
    reference: str | None = Field(default=None, min_length=1)
    samples: int = Field(default=1, ge=1)
    swap: bool = False

    @field_validator("model")
    @classmethod
    def _known_model(cls, spec: str | None) -> str | None:
        return _model_spec(spec)

    @field_validator("persona")
    @classmethod
    def _known_persona(cls, name: str | None, info: ValidationInfo) -> str | None:
        if name is None:
            return None
        if name.endswith((".yaml", ".yml")):
            name = str(resolve(name, _base(info)))
        checked(load_persona, name)
        return name

    @field_validator("rubric")
    @classmethod
    def _readable_rubric(cls, path: str | None, info: ValidationInfo) -> str | None:
        if path is None:
            return None
        from agora.methods.rubric import load_rubric

        resolved = resolve(path, _base(info))
        checked(load_rubric, resolved)
        return str(resolved)

    @model_validator(mode="after")
    def _one_form(self) -> JudgeSpec:
        checked(form_of, self.scale, self.rubric, self.checklist, None, self.reasoning)
        return self

    @property
    def seat_name(self) -> str:
        """The juror's name in the judging seat: ``name``, else the persona, else ``judge``."""
        return self.name or self.persona or "judge"


class JurySpec(Spec):
    """How the judging seat's verdicts become a decision: the voting rule, the uncertainty thresholds, live checks.

    A rule that takes ``weights`` gets the judges' ``weight`` unless ``params`` gives them.
    """

    rule: str = "majority"
    params: dict[str, Any] = Field(default_factory=dict)
    min_confidence: float = 0
    min_probability: float = 0
    quorum: int = 1
    margin: float = 0
    on_failure: Literal["abstain", "replace"] = "abstain"
    checks: list[str] = Field(default_factory=list)

    @field_validator("rule")
    @classmethod
    def _known_rule(cls, name: str) -> str:
        checked(RULES.get, name)
        return name

    @field_validator("checks")
    @classmethod
    def _live_checks(cls, names: list[str]) -> list[str]:
        return checked_each(live_check, names)

    @model_validator(mode="after")
    def _coherent(self) -> JurySpec:
        checked(seat_rule, self.rule, self.params, {})  # the judges' weights come with the seat
        checked(check_fit, self.rule, self.params)
        checked(self.thresholds)
        return self

    def thresholds(self) -> Thresholds:
        """The policy as ``agora.aggregation.thresholds.Thresholds``."""
        return Thresholds(self.min_confidence, self.quorum, self.margin, self.on_failure, self.min_probability)


class CascadeStageSpec(Spec):
    """One stage of a ``cascade:``: the judges (by name) who sit in it, and the decision confidence (0-100) at which
    an item stops there; the last stage always decides, so it needs none. ``min_probability`` replaces the jury's for
    this stage: its jurors whose token probability is lower abstain, so an unsure stage escalates the item."""

    judges: list[str] = Field(min_length=1)
    accept_confidence: float | None = Field(default=None, ge=0, le=100, allow_inf_nan=False)
    min_probability: float | None = Field(default=None, ge=0, le=1, allow_inf_nan=False)


def _protocol(value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> Any:
    """A ``protocols:`` entry validated by the spec class its ``kind`` names in the registry."""
    if isinstance(value, dict):
        return PROTOCOLS.get(value["kind"]).model_validate(value, context=info.context)
    return handler(value)


ProtocolEntry = SerializeAsAny[Annotated[ProtocolSpec, WrapValidator(_protocol)]]


class SettingsSpec(Spec):
    """Sampling settings of the judges; ``timeout`` bounds every model call."""

    temperature: float = Field(default=0.0, ge=0, le=2, allow_inf_nan=False)
    max_tokens: int = Field(default=512, ge=16)
    timeout: float = Field(default=300.0, gt=0, allow_inf_nan=False)


class LimitsSpec(Spec):
    """The limits of one provider (a backend kind: ``openai``, ``anthropic``, ``local`` ...)."""

    concurrency: int | None = Field(default=None, ge=1)
    requests_per_minute: float | None = Field(default=None, gt=0)
    tokens_per_minute: float | None = Field(default=None, gt=0)


class RetrySpec(Spec):
    max_retries: int = Field(default=3, ge=0)
    base_delay: float = Field(default=0.5, ge=0)
    max_delay: float = Field(default=30.0, ge=0)
    timeouts: bool = False  # also retry the timeouts of the embedded model (which would take as long again)


class Scenario(Spec):
    """A study: run every protocol on every item, judged by the judging seat (the judges as one jury, or with
    ``cascade`` in stages, each item going on to the next stage only while the decision is unsure)."""

    name: str = Field(min_length=1)
    description: str = ""
    seed: int = 0
    data: list[Source] = Field(min_length=1)
    models: ModelsSpec = Field(default_factory=ModelsSpec)
    judges: list[JudgeSpec] = Field(default_factory=lambda: [JudgeSpec()], min_length=1)
    jury: JurySpec = Field(default_factory=JurySpec)
    cascade: list[CascadeStageSpec] | None = Field(default=None, min_length=1)
    protocols: list[ProtocolEntry] = Field(min_length=1)
    settings: SettingsSpec = Field(default_factory=SettingsSpec)
    metrics: list[str] = Field(default_factory=lambda: list(METRICS))
    concurrency: int = Field(default=4, ge=1)
    limits: dict[str, LimitsSpec] = Field(default_factory=dict)
    retry: RetrySpec = Field(default_factory=RetrySpec)
    cache: bool | Path = Field(default=True, validate_default=True)
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
            checked(PROTOCOLS.get, str(kind))
        return value

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, names: list[str]) -> list[str]:
        for name in names:
            if name not in METRICS:
                raise ValueError(f"unknown metric {name!r}{hint(name, sorted(METRICS))}")
        return names

    @field_validator("limits")
    @classmethod
    def _known_providers(cls, limits: dict[str, LimitsSpec]) -> dict[str, LimitsSpec]:
        for provider in limits:
            if provider not in BACKENDS:
                raise ValueError(f"unknown provider {provider!r}{hint(provider, BACKENDS.names())}")
        return limits

    @field_validator("cache", "output", mode="before")
    @classmethod
    def _paths(cls, value: Any, info: ValidationInfo) -> Any:
        """A path resolved against the scenario file; in a file, one a run can write (``cache: true`` is the shared
        cache directory)."""
        if value is None or value is False:
            return value
        path = cache_dir() if value is True else resolve(value, _base(info))
        if _base(info) is not None:
            checked(check_writable, path, "file" if info.field_name == "cache" and value is not True else "directory")
        return value if value is True else path

    @model_validator(mode="after")
    def _unique_names(self) -> Scenario:
        for what, names in (
            ("protocols", [p.name for p in self.protocols]),
            ("judges", [j.seat_name for j in self.judges]),
            ("data", [d.name or d.path.stem for d in self.data]),
        ):
            twice = sorted({n for n in names if names.count(n) > 1})
            if twice:
                raise ValueError(f"{what}: names must be unique, {twice[0]!r} is used twice (set 'name')")
        return self

    @model_validator(mode="after")
    def _weights_reach_the_rule(self) -> Scenario:
        weighted = [j.seat_name for j in self.judges if j.weight != 1]
        given = self.jury.params.get("weights")
        if weighted and not takes_weights(self.jury.rule):
            raise ValueError(
                f"judges: {weighted[0]!r} has a weight, and rule {self.jury.rule!r} takes none (use rule: weighted)"
            )
        if isinstance(given, dict):
            if weighted:
                raise ValueError("jury.params.weights: the judges carry weights already; give them in one place")
            seats = [j.seat_name for j in self.judges]
            missing = [name for name in seats if name not in given]
            if missing:
                raise ValueError(f"jury.params.weights: no weight for judge {missing[0]!r}")
            strangers = [name for name in given if name not in seats]
            if strangers:
                raise ValueError(f"jury.params.weights: {strangers[0]!r} is not a judge{hint(strangers[0], seats)}")
        return self

    @model_validator(mode="after")
    def _cascade_seats_every_judge_once(self) -> Scenario:
        if self.cascade is None:
            return self
        seats = [j.seat_name for j in self.judges]
        placed: dict[str, int] = {}
        for i, stage in enumerate(self.cascade):
            where = f"cascade.{i}"
            for name in stage.judges:
                if name not in seats:
                    raise ValueError(f"{where}.judges: unknown judge {name!r}{hint(name, seats)}")
                if name in placed:
                    raise ValueError(f"{where}.judges: judge {name!r} already sits in cascade.{placed[name]}")
                placed[name] = i
            if i < len(self.cascade) - 1 and stage.accept_confidence is None and stage.min_probability is None:
                raise ValueError(
                    f"{where}.accept_confidence: required for every stage but the last (or its min_probability)"
                )
            if len(stage.judges) < self.jury.quorum:
                raise ValueError(
                    f"{where}.judges: {len(stage.judges)} judge(s) can never reach jury.quorum {self.jury.quorum}"
                )
        idle = [name for name in seats if name not in placed]
        if idle:
            raise ValueError(f"cascade: judge {idle[0]!r} sits in no stage (list it in one)")
        if needs_fit(self.jury.rule, self.jury.params):
            raise ValueError("cascade: a jury fitted after its run (rule dawid_skene) cannot decide stage by stage")
        return self

    @model_validator(mode="after")
    def _tournament_swaps_sides(self) -> Scenario:
        if not self.models.debaters:
            return self
        for i, spec in enumerate(self.protocols):
            if spec.kind == "courtroom":
                raise ValueError(
                    f"protocols.{i}.kind: a courtroom takes no part in a tournament (models.debaters); "
                    "run it in a scenario of its own"
                )
            if isinstance(spec, ArguedSpec) and not spec.swap_sides:
                raise ValueError(
                    f"protocols.{i}.swap_sides: models.debaters makes a tournament; set swap_sides: true on "
                    f"{spec.name!r}, else each model would always argue the same side"
                )
        return self

    def model_specs(self) -> set[str]:
        """Every model spec the scenario names, per role, per debater of a tournament and per judge."""
        roles = {self.models.of(role) for role in ("debater", "consultant", "judge")}
        return roles | set(self.models.debaters or ()) | {j.model for j in self.judges if j.model}

    def imports(self) -> list[str]:
        """The Python objects the scenario imports (its ``langchain:MODULE:ATTR`` specs)."""
        return sorted(spec.partition(":")[2] for spec in self.model_specs() if spec.partition(":")[0] == "langchain")

    def stored(self) -> dict[str, Any]:
        """The scenario as a run store keeps it: JSON, with credentials in URLs masked (see ``agora.redaction``)."""
        stored: dict[str, Any] = redact_data(self.model_dump(mode="json"))
        return stored

    def digest(self) -> str:
        """A hash of everything that decides the results (sha256 of the canonical JSON of ``stored()``, so that it
        tells nothing of a masked credential)."""
        return hashlib.sha256(json.dumps(self.stored(), sort_keys=True).encode()).hexdigest()


def _base(info: ValidationInfo) -> Path | None:
    """The directory of the scenario file being validated, if any."""
    base = (info.context or {}).get("base")
    return None if base is None else Path(base)


def load_scenario(path: Path | str) -> Scenario:
    """Read and validate the scenario at ``path``.

    Raises:
        ConfigError: one line naming the file and the field that is wrong.
    """
    data = read_mapping(path, "scenario")
    data.setdefault("name", Path(path).stem)
    return parse_scenario(data, Path(path))


def check_data(scenario: Scenario) -> None:
    """Read each data file of ``scenario`` through, as a run does before its first call.

    Raises:
        ConfigError: a file that is not UTF-8, cannot be parsed or holds no usable item, naming the file; a row
            without the reference field a judge reads, naming the row.
    """
    wanted = {j.reference: j.seat_name for j in scenario.judges if j.reference}
    for source in scenario.data:
        count(source)
        rows = read(source.model_copy(update={"sample": None, "limit": None})) if wanted else iter(())
        for row in rows:
            for field, judge in wanted.items():
                if isinstance(row, Item) and field not in row.references():
                    raise ConfigError(
                        f"{row.source}: judges.{judge}.reference: the row has no {field!r} field "
                        "(a judge reads the loader's reference column or a column kept by fields.meta)"
                    )


def parse_scenario(data: dict[str, Any], path: Path) -> Scenario:
    """Validate ``data`` read from ``path`` (paths in it resolve against ``path``'s directory)."""
    return validate(Scenario, data, path, context={"base": path.parent})
