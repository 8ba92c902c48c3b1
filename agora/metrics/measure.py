"""Every metric of a run, read from its run store alone: no model calls, and a partial run gives partial figures."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from agora.aggregation.fitting import for_report
from agora.metrics.accuracy import Outcome, accuracy, risk_coverage, selective
from agora.metrics.agreement import cohen_kappa, jury_agreement, percent
from agora.metrics.breakdown import breakdown, fields
from agora.metrics.calibration import calibration
from agora.metrics.cascade import cascade_stages
from agora.metrics.flags import flag_rates
from agora.metrics.guess import below_guess
from agora.metrics.paired import paired
from agora.metrics.ranking import Match, ratings
from agora.metrics.robustness import robustness
from agora.metrics.tournament import matchups, side_wins, trends
from agora.metrics.types import Headline, JuryAgreement, Paired, RunMetrics
from agora.runner.record import Record
from agora.runner.store import RunStore
from agora.runner.summary import DECISION
from agora.types import Decision

FITTED = "fitted decision"
"""The judge column of the decision a jury fitted on its run makes (``jury: {rule: dawid_skene}``)."""


@dataclass
class _Seat:
    """What one judge (or the seat's decision) did under one protocol: task (``task``) → outcome and choice."""

    persona: str | None = None
    model: str | None = None
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    choices: dict[str, int | None] = field(default_factory=dict)
    gold: dict[str, int] = field(default_factory=dict)
    probability: dict[str, float] = field(default_factory=dict)  # the rule's or the juror's token probability


def measure(store: RunStore, *, threshold: float | None = None, seed: int = 0) -> RunMetrics:
    """The metrics of the run in ``store``.

    ``threshold`` (stated confidence, 0-100) sets the coverage and selective accuracy of the headline; by default
    it is the scenario's ``jury.min_confidence``. ``seed`` fixes every bootstrap.
    """
    manifest = store.manifest()
    scenario = _scenario(manifest)
    if threshold is None:
        threshold = float((scenario.get("jury") or {}).get("min_confidence", 0) or 0)
    records = list(store.records())
    fitted = for_report(store, manifest, records)
    probes = {p.get("name") for p in scenario.get("protocols", []) if p.get("kind") == "probes"}
    seats, errors = _seats(records, skip=probes, fitted=fitted.decisions() if fitted else None)
    order = {p.get("name"): i for i, p in enumerate(scenario.get("protocols", []))}  # as the scenario lists them
    seats = dict(sorted(seats.items(), key=lambda kv: order.get(kv[0][0], len(order))))
    by_protocol = sorted(records, key=lambda r: order.get(r.protocol, len(order)))
    items = list(store.items())
    answers = {item.id: len(item.answers) for item in items}
    rated = ratings(_matches(records), seed=seed)
    matched = matchups(by_protocol, rated, seed=seed)
    headline = tuple(
        _headline(protocol, judge, seat, threshold, errors.get(protocol, 0), seed)
        for (protocol, judge), seat in seats.items()
    )
    protocols = list(dict.fromkeys(protocol for protocol, _ in seats))
    return RunMetrics(
        name=str(scenario.get("name", store.directory.name)),
        partial=manifest.get("status") != "finished",
        tasks=len(records),
        errors=sum(errors.values()),
        headline=headline,
        paired=_paired(seats, protocols, seed),
        agreement=_agreement(seats, protocols),
        robustness=robustness(records, seed=seed),
        ratings=rated,
        manifest=manifest,
        breakdown=breakdown(
            {key: seat.outcomes for key, seat in seats.items()},
            fields(items, _sources(scenario)),
            {task(r): r.item for r in records},
            seed=seed,
        ),
        flags=flag_rates(by_protocol, seed=seed),
        below_guess=below_guess(by_protocol, answers),
        fitted=fitted,
        cascade=cascade_stages(by_protocol, _cascade(scenario), seed=seed),
        side_wins=side_wins(by_protocol, seed=seed),
        matchups=matched,
        trends=trends(matched),
    )


def right(
    records: Iterable[Record], protocol: str, judge: str, fitted: Mapping[str, Decision] | None = None
) -> dict[str, bool | None]:
    """Task (``task``: the item id, with ``@assignment`` in a tournament) → whether ``judge`` (or the seat's
    ``decision``, or with ``fitted``, task key → fitted decision, the ``FITTED`` one) was right under ``protocol``;
    ``None`` when it did not decide. Only tasks with gold and a result count, as in the headline's accuracy."""
    seat = _seats((r for r in records if r.protocol == protocol), fitted=fitted)[0].get((protocol, judge))
    return _right(seat) if seat else {}


Seats = dict[tuple[str, str], _Seat]
"""(protocol, judge) → what that judge did under that protocol."""


def task(record: Record) -> str:
    """The task of ``record`` within its protocol: its item id, with ``@assignment`` for a task of a tournament (which
    runs an item once per assignment)."""
    return record.item if record.assignment is None else f"{record.item}@{record.assignment}"


def _seats(
    records: Iterable[Record],
    skip: frozenset[str] | set[str] = frozenset(),
    fitted: Mapping[str, Decision] | None = None,
) -> tuple[Seats, dict[str, int]]:
    """Each protocol's judges, decision and fitted decision (``fitted``: task key → decision), and its error count
    (a protocol in ``skip`` gets no decision row)."""
    seats: Seats = {}
    errors: dict[str, int] = {}
    for record in records:
        if record.status == "error":
            errors[record.protocol] = errors.get(record.protocol, 0) + 1
            continue
        if record.gold is None or record.decision is None:
            continue
        for verdict in {v.judge: v for v in record.verdicts}.values():  # a judge's last word on the task
            seat = seats.setdefault((record.protocol, verdict.judge), _Seat(verdict.persona, verdict.model))
            _note(seat, record, verdict.choice, verdict.confidence, verdict.probability)
        _note_decision(seats.setdefault((record.protocol, DECISION), _Seat()), record, record.decision)
        if fitted and record.key in fitted:
            _note_decision(seats.setdefault((record.protocol, FITTED), _Seat()), record, fitted[record.key])
    for protocol in errors.keys() - skip:  # a protocol whose every task failed still has its row
        seats.setdefault((protocol, DECISION), _Seat())
    return seats, errors


def _note_decision(seat: _Seat, record: Record, decision: Decision) -> None:
    """Note a decision: its stated confidence, else its probability, stands for its confidence."""
    outcome = decision.outcome if isinstance(decision.outcome, int) else None
    confidence = decision.confidence
    if confidence is None and decision.probability is not None:
        confidence = 100 * decision.probability
    _note(seat, record, outcome, confidence, decision.probability)


def _note(
    seat: _Seat, record: Record, choice: int | None, confidence: float | None, probability: float | None = None
) -> None:
    """Note a choice; its ``probability`` (a rule's, or a juror's token probability), where known, is what
    calibration reads instead of the stated confidence."""
    assert record.gold is not None
    key = task(record)
    seat.gold[key] = record.gold
    seat.choices[key] = choice
    seat.outcomes[key] = None if choice is None else (confidence or 0.0, choice == record.gold)
    if choice is not None and probability is not None:
        seat.probability[key] = probability


def _headline(protocol: str, judge: str, seat: _Seat, threshold: float, errors: int, seed: int) -> Headline:
    outcomes = list(seat.outcomes.values())
    decided = [(choice, seat.gold[key]) for key, choice in seat.choices.items() if choice is not None]
    stated = [seat.probability.get(key, o[0] / 100) for key, o in seat.outcomes.items() if o is not None]
    choices, golds = [c for c, _ in decided], [g for _, g in decided]
    coverage, selective_accuracy = selective(outcomes, threshold)
    return Headline(
        protocol=protocol,
        judge=judge,
        persona=seat.persona,
        model=seat.model,
        n=len(outcomes),
        accuracy=accuracy(outcomes, seed=seed),
        kappa=cohen_kappa(choices, golds),
        percent_agreement=percent(choices, golds),
        calibration=calibration(stated, [o[1] for o in outcomes if o is not None]),
        risk_coverage=risk_coverage(outcomes),
        coverage=coverage,
        selective_accuracy=selective_accuracy,
        threshold=threshold,
        errors=errors,
    )


def _paired(seats: Seats, protocols: list[str], seed: int) -> tuple[Paired, ...]:
    """Every pair of protocols, under every judge sitting in both (the seat's decision first), paired on the tasks
    both have: a tournament's protocol pairs with another over the same assignments only, so a pair with no task in
    common is left out."""
    found = []
    judges = list(dict.fromkeys([DECISION, *(judge for _, judge in seats)]))
    for i, a in enumerate(protocols):
        for b in protocols[i + 1 :]:
            for judge in judges:
                if (a, judge) in seats and (b, judge) in seats:
                    right_a, right_b = _right(seats[(a, judge)]), _right(seats[(b, judge)])
                    if right_a.keys() & right_b.keys():
                        found.append(paired(right_a, right_b, a=a, b=b, judge=judge, seed=seed))
    return tuple(found)


def _right(seat: _Seat) -> dict[str, bool | None]:
    return {key: None if o is None else o[1] for key, o in seat.outcomes.items()}


def _agreement(seats: Seats, protocols: list[str]) -> tuple[JuryAgreement, ...]:
    found = []
    for protocol in protocols:
        judges = [(judge, seat) for (p, judge), seat in seats.items() if p == protocol]
        choices = {judge: seat.choices for judge, seat in judges if judge not in (DECISION, FITTED)}
        if len(choices) >= 2:
            found.append(jury_agreement(protocol, choices))
    return tuple(found)


def _matches(records: Iterable[Record]) -> list[Match]:
    """(winner, loser) for every pair of debaters who argued different answers before a decisive judge.

    The players are the debater models in a tournament's task (its record names them), so that a rating rates a
    model, which argues every side in turn; a model against itself plays no match. Elsewhere they are the speakers
    (``debater_a`` …), and the ratings rate seats and sides.
    """
    found: list[Match] = []
    for record in records:
        if record.status != "ok" or record.decision is None or len(record.sides) < 2:
            continue
        outcome = record.decision.outcome
        if not isinstance(outcome, int):
            continue
        winners = [record.models.get(name, name) for name, side in record.sides.items() if side == outcome]
        losers = [record.models.get(name, name) for name, side in record.sides.items() if side != outcome]
        found += [(w, lose) for w in winners for lose in losers if w != lose]
    return found


def _sources(scenario: dict[str, Any]) -> list[str]:
    """The names of the scenario's data sources, the prefixes of their items' ids (as ``agora.runner.run`` names
    them: ``name``, else the file's stem when there are several)."""
    data = scenario.get("data") or []
    several = len(data) > 1
    return [name for d in data if (name := d.get("name") or (PurePath(str(d.get("path"))).stem if several else None))]


def _cascade(scenario: dict[str, Any]) -> list[list[str]]:
    """The judges of each stage of the scenario's cascade (none without one)."""
    return [list(stage.get("judges") or []) for stage in scenario.get("cascade") or []]


def _scenario(manifest: dict[str, Any]) -> dict[str, Any]:
    scenario = manifest.get("scenario")
    return scenario if isinstance(scenario, dict) else {}
