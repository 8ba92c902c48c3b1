"""Juror reliabilities fitted on a run's own verdicts, for a scenario's ``jury: {rule: dawid_skene}``.

A rule cannot know the jurors before it has seen them, so during the run each decision is the provisional majority
(rule ``dawid_skene (provisional: majority)``). When the run finishes, ``fit_after_run`` fits one Dawid–Skene model
per protocol (and number of answers) on every record's verdicts, unsupervised (gold is never used), and stores it in
the run store with the decision it makes on each item under the jury's thresholds, beside the live one. A report
reads the stored fits; on a partial run it fits the records so far for itself and stores nothing. Live checks are
not re-run for the fitted decisions (they call models): their flags stay on the live decisions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, ValidationError

from agora.aggregation.thresholds import Thresholds, decide
from agora.aggregation.voting import get_rule
from agora.config_file import config_error
from agora.errors import ConfigError
from agora.types import Decision, Verdict

if TYPE_CHECKING:
    from agora.runner.record import Record
    from agora.runner.store import RunStore


class Jury(Protocol):
    """What a fit needs of a scenario's jury (``agora.scenarios.JurySpec``)."""

    @property
    def rule(self) -> str: ...

    @property
    def params(self) -> dict[str, Any]: ...

    def thresholds(self) -> Thresholds: ...


class Fit(BaseModel):
    """A Dawid–Skene model fitted on one protocol's items that have ``n_answers`` answers, and its decisions.

    Attributes:
        accuracy: juror → estimated probability that the juror states the right answer.
        prior: the estimated probability that each answer is the right one.
        decisions: task key → the decision the fitted model makes under the jury's thresholds (rule ``dawid_skene``).
    """

    model_config = ConfigDict(frozen=True)

    protocol: str
    n_answers: int
    accuracy: dict[str, float]
    prior: list[float]
    decisions: dict[str, Decision]

    @property
    def name(self) -> str:
        """Its key in the run store."""
        return f"{self.protocol}:{self.n_answers}"


@dataclass(frozen=True)
class Fitted:
    """The fits a report shows, and how it got them: ``stored`` when the run finished, made ``now`` for the report
    (a partial run, or a run store without a fit), or ``unavailable`` (crowd-kit is not installed)."""

    fits: tuple[Fit, ...]
    made: Literal["stored", "now", "unavailable"]

    def decisions(self) -> dict[str, Decision]:
        """Task key → fitted decision, over every fit."""
        return {key: decision for fit in self.fits for key, decision in fit.decisions.items()}


def needs_fit(rule: str, params: Mapping[str, Any]) -> bool:
    """Whether a jury with ``rule`` and ``params`` is fitted on its run when the run finishes."""
    return rule == "dawid_skene" and params.get("model") is None


def check_fit(rule: str, params: Mapping[str, Any]) -> None:
    """Check, before any model call, that a ``dawid_skene`` jury has a fitted model or can be fitted on its run.

    Raises:
        ConfigError: a model that is not a fitted ``Reliability`` (a scenario file cannot hold one), or a jury to
            fit without crowd-kit installed.
    """
    if rule != "dawid_skene":
        return
    from agora.aggregation.reliability import MISSING, Reliability, installed  # numpy: only for this rule

    if not isinstance(params.get("model"), Reliability | None):
        fix = "leave it out to fit the jury on its run"
        raise ConfigError(f"rule 'dawid_skene': params.model must be a fitted Reliability; {fix}")
    if needs_fit(rule, params) and not installed():
        raise ConfigError(f"rule 'dawid_skene' fits juror reliabilities when the run finishes; {MISSING}")


def fit(records: Iterable[Record], answers: Mapping[str, int], policy: Thresholds) -> tuple[Fit, ...]:
    """One fit per protocol and number of answers over the decided records, each judge's last verdict on an item
    being its vote; ``answers`` gives each item's number of answers. Groups without a single vote are left out.

    Raises:
        ConfigError: crowd-kit is not installed.
    """
    from agora.aggregation.reliability import fit_dawid_skene

    groups: dict[tuple[str, int], list[tuple[str, list[Verdict]]]] = {}
    for record in records:
        if record.status != "ok" or record.decision is None:
            continue
        n_answers = answers.get(record.item, len(record.decision.votes))
        ballot = list({v.judge: v for v in record.verdicts}.values())
        groups.setdefault((record.protocol, n_answers), []).append((record.key, ballot))
    fits = []
    for (protocol, n_answers), ballots in groups.items():
        if not any(v.choice is not None and not v.abstained for _, ballot in ballots for v in ballot):
            continue
        model = fit_dawid_skene([ballot for _, ballot in ballots], n_answers)
        rule = get_rule("dawid_skene", model=model)
        decisions = {key: decide(ballot, n_answers, rule, policy) for key, ballot in ballots}
        accuracy, prior = model.accuracy(), model.prior.tolist()
        fits.append(Fit(protocol=protocol, n_answers=n_answers, accuracy=accuracy, prior=prior, decisions=decisions))
    return tuple(fits)


def fit_after_run(store: RunStore, jury: Jury) -> None:
    """Fit the finished run in ``store`` and store the fits (replacing any earlier), when its ``jury`` asks for it."""
    if needs_fit(jury.rule, jury.params):
        fits = fit(store.records(), _answers(store), jury.thresholds())
        store.put_fits({f.name: f.model_dump_json() for f in fits})


def read_fits(store: RunStore) -> tuple[Fit, ...]:
    """The fits stored in ``store``.

    Raises:
        ConfigError: a stored fit that cannot be read.
    """
    fits = []
    for name, body in store.fits().items():
        try:
            fits.append(Fit.model_validate_json(body))
        except ValidationError as exc:
            raise config_error(f"{store.path}: fit {name!r}", exc) from None
    return tuple(fits)


def for_report(store: RunStore, manifest: Mapping[str, Any], records: Iterable[Record]) -> Fitted | None:
    """The fits a report of the run in ``store`` shows; ``None`` when its jury is not fitted. Nothing is written."""
    scenario = manifest.get("scenario")
    jury = (scenario.get("jury") if isinstance(scenario, dict) else None) or {}
    if not needs_fit(jury.get("rule", "majority"), jury.get("params") or {}):
        return None
    if manifest.get("status") == "finished" and (stored := read_fits(store)):
        return Fitted(stored, "stored")
    from agora.aggregation.reliability import installed

    if not installed():
        return Fitted((), "unavailable")
    policy = Thresholds(
        jury.get("min_confidence", 0),
        jury.get("quorum", 1),
        jury.get("margin", 0),
        min_probability=jury.get("min_probability", 0),
    )
    return Fitted(fit(records, _answers(store), policy), "now")


def _answers(store: RunStore) -> dict[str, int]:
    """Item id → its number of answers."""
    return {item.id: len(item.answers) for item in store.items()}
