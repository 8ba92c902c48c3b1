"""Uncertainty thresholds around a voting rule: unsure jurors abstain (by the confidence they state, or by the
model's token probability of their answer), and a jury that is too small or too split is inconclusive, never a
silent pick. ``sweep`` traces coverage against selective accuracy.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, get_args

from agora.aggregation.voting import Rule, get_rule
from agora.backends import Backend
from agora.errors import ConfigError, ExecutionError
from agora.log import get_logger
from agora.state import Decider, View
from agora.types import Decision, Verdict

OnFailure = Literal["abstain", "replace"]

log = get_logger("agora.aggregation")


@dataclass(frozen=True)
class Thresholds:
    """When a jury may decide.

    Attributes:
        min_confidence: a juror whose stated confidence (0-100) is below it abstains; exactly at it, it votes.
        quorum: non-abstaining jurors required for a decision.
        margin: the winner's share of the votes cast must exceed the runner-up's by at least this (0-1).
        on_failure: a juror that fails (an ``ExecutionError`` after retries) abstains, or a spare takes its seat.
        min_probability: a juror whose token probability of its answer (0-1, ``Verdict.probability``, read with
            logprobs) is below it abstains, and so does one without a probability; 0 leaves them all to vote.
    """

    min_confidence: float = 0
    quorum: int = 1
    margin: float = 0
    on_failure: OnFailure = "abstain"
    min_probability: float = 0

    def __post_init__(self) -> None:
        if not 0 <= self.min_confidence <= 100:
            raise ConfigError(f"thresholds: min_confidence must be between 0 and 100, got {self.min_confidence!r}")
        if isinstance(self.quorum, bool) or not isinstance(self.quorum, int) or self.quorum < 1:
            raise ConfigError(f"thresholds: quorum must be a whole number of jurors >= 1, got {self.quorum!r}")
        if not 0 <= self.margin <= 1:
            raise ConfigError(f"thresholds: margin must be a vote share between 0 and 1, got {self.margin!r}")
        if not 0 <= self.min_probability <= 1:
            raise ConfigError(f"thresholds: min_probability must be between 0 and 1, got {self.min_probability!r}")
        if self.on_failure not in get_args(OnFailure):
            raise ConfigError(f"thresholds: on_failure must be 'abstain' or 'replace', got {self.on_failure!r}")


def _votes(verdict: Verdict) -> bool:
    """Whether ``verdict`` casts a vote (it neither abstains nor lacks a choice)."""
    return verdict.choice is not None and not verdict.abstained


def decide(verdicts: Sequence[Verdict], n_answers: int, rule: Rule | str, policy: Thresholds) -> Decision:
    """``rule``'s decision over the jurors sure enough to vote, or inconclusive when the quorum or margin fails.

    A juror below ``policy.min_confidence`` abstains (flag ``low-confidence:<juror>``), and so does one below
    ``policy.min_probability`` or without a probability when it is set (flag ``low-probability:<juror>``); too
    few voters make the decision inconclusive with flag ``quorum``, too narrow a lead with flag ``margin``.
    """
    vote = get_rule(rule) if isinstance(rule, str) else rule
    stated = [v for v in verdicts if _votes(v) and v.confidence < policy.min_confidence]
    improbable = [v for v in verdicts if _votes(v) and v not in stated and _improbable(v, policy.min_probability)]
    unsure = stated + improbable
    cast = [v.model_copy(update={"choice": None, "abstained": True}) if v in unsure else v for v in verdicts]
    decision = vote(cast, n_answers)
    failed: str | None = None
    if sum(_votes(v) for v in cast) < policy.quorum:
        failed = "quorum"
    elif decision.outcome != "inconclusive" and _lead(decision.votes, decision.outcome) < policy.margin:
        failed = "margin"
    abstained = [v.judge for v in cast if not _votes(v)]
    flags = [
        *decision.flags,
        *(f"low-confidence:{v.judge}" for v in stated),
        *(f"low-probability:{v.judge}" for v in improbable),
    ]
    if failed:
        dissent = [f"{v.judge}: {v.reasoning}" for v in cast if _votes(v)]
        return Decision(
            outcome="inconclusive",
            rule=decision.rule,
            votes=decision.votes,
            abstained=abstained,
            dissent=dissent,
            flags=[*flags, failed],
        )
    return decision.model_copy(update={"abstained": abstained, "flags": flags})


def _improbable(verdict: Verdict, floor: float) -> bool:
    """Whether ``verdict``'s token probability is below ``floor`` (unknown counts as below a floor above 0)."""
    return floor > 0 and (verdict.probability is None or verdict.probability < floor)


def _lead(totals: Sequence[float], winner: int) -> float:
    """How far ``winner``'s share of the votes cast exceeds the best other answer's."""
    cast = sum(totals)
    runner_up = max((t for i, t in enumerate(totals) if i != winner), default=0.0)
    return (totals[winner] - runner_up) / cast if cast else 0.0


async def sit(jurors: Sequence[Decider], spares: Sequence[Decider], seen: View, policy: Thresholds) -> list[Verdict]:
    """One verdict per juror, asked concurrently, in the order of ``jurors``.

    A juror that raises an ``ExecutionError`` gets an abstaining verdict (the error as its reasoning), or with
    ``on_failure="replace"`` the next unused spare takes its seat: that verdict's judge is ``"<spare> for
    <juror>"``; when the spares run out, the seat abstains. A ``ConfigError`` is bad input and propagates.
    """
    pool = iter(spares if policy.on_failure == "replace" else ())
    tasks = [asyncio.ensure_future(fill(juror, pool, seen)) for juror in jurors]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        raise


def stand_in(spare: str, juror: str) -> str:
    """The name a verdict carries when ``spare`` sits in ``juror``'s seat."""
    return f"{spare} for {juror}"


async def fill(juror: Decider, pool: Iterator[Decider], seen: View) -> Verdict:
    """``juror``'s verdict, else the verdict of the spares from ``pool`` in turn, else an abstention."""
    sitter = juror
    while True:
        name = sitter.name if sitter is juror else stand_in(sitter.name, juror.name)
        try:
            verdict = await sitter.decide(seen)
        except ExecutionError as exc:
            error = f"{type(exc).__name__}: {exc}"
            spare = next(pool, None)
            log.warning("juror.failed", juror=name, error=error, spare=spare.name if spare else None)
            if spare is None:
                return Verdict(
                    choice=None,
                    confidence=0,
                    reasoning=error,
                    abstained=True,
                    judge=name,
                    model=_model(sitter),
                    error=error,
                )
            sitter = spare
        else:
            return verdict.model_copy(update={"judge": name})


def _model(seat: Decider) -> str:
    """The model spec behind ``seat``; its class name when it has no backend (a human, a user's own decider)."""
    backend = getattr(seat, "model", None)
    return backend.spec if isinstance(backend, Backend) else type(seat).__name__


@dataclass(frozen=True)
class SweepPoint:
    """One point of the coverage / selective-accuracy curve: a ``min_confidence`` and what the jury decided."""

    min_confidence: float
    items: int
    decided: int
    correct: int

    @property
    def coverage(self) -> float:
        """The fraction of items decided (not inconclusive)."""
        return self.decided / self.items

    @property
    def selective_accuracy(self) -> float | None:
        """Accuracy on the decided items; None when nothing was decided."""
        return self.correct / self.decided if self.decided else None


def sweep(
    labelled: Sequence[tuple[Sequence[Verdict], int]], n_answers: int, rule: Rule | str, thresholds: Sequence[float]
) -> list[SweepPoint]:
    """For each ``min_confidence`` in ``thresholds``, decide every ``(verdicts, correct answer)`` item and count.

    Other thresholds keep their defaults (quorum 1, no margin).
    """
    if not labelled:
        raise ConfigError("sweep: no labelled items")
    for i, (_, label) in enumerate(labelled):
        if not 0 <= label < n_answers:
            raise ConfigError(f"sweep: item {i} is labelled {label}, outside the {n_answers} answers")
    points = []
    for threshold in thresholds:
        policy = Thresholds(min_confidence=threshold)
        outcomes = [(decide(verdicts, n_answers, rule, policy).outcome, label) for verdicts, label in labelled]
        decided = [(outcome, label) for outcome, label in outcomes if outcome != "inconclusive"]
        correct = sum(outcome == label for outcome, label in decided)
        points.append(SweepPoint(threshold, len(labelled), len(decided), correct))
    return points
