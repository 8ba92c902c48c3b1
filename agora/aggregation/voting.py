"""Voting rules in a registry: ``@aggregator("name")`` makes a user's rule as usable as a built-in one.

A rule is called as ``rule(verdicts, n_answers) -> Decision``. A rule that needs more, such as juror weights or a
fitted model, takes it as a keyword-only parameter, and ``get_rule(name, **params)`` binds it, so every rule
reaches a jury with the same two-argument signature; a jury binds a ``weights`` parameter to its jurors' weights
(``seat_rule``). A tie, or no vote at all, is inconclusive, never a pick.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from agora.errors import ConfigError
from agora.registry import Registry
from agora.types import Decision, Verdict

if TYPE_CHECKING:
    from agora.aggregation.reliability import Reliability  # numpy: imported where a model is used

Rule = Callable[[Sequence[Verdict], int], Decision]
Registered = TypeVar("Registered", bound=Callable[..., Decision])

# Clip on a stated confidence read as a probability: no juror alone can make an answer certain or impossible.
LOG_ODDS_CLIP = (0.01, 0.99)

RULES = Registry[Callable[..., Decision]]("rule")
"""Voting rules by name: ``rule(verdicts, n_answers, **params) -> Decision``, params keyword-only."""


def aggregator(name: str) -> Callable[[Registered], Registered]:
    """Register ``rule(verdicts, n_answers, **params) -> Decision`` under ``name``; params are keyword-only."""
    return RULES.register(name)


def get_rule(name: str, **params: Any) -> Rule:
    """The rule registered under ``name``, with ``params`` bound: ``get_rule("weighted", weights={"a": 2.0})``.

    Raises:
        ConfigError: an unknown name, or params the rule does not take or lacks.
    """
    rule = RULES.get(name)
    try:
        inspect.signature(rule).bind((), 0, **params)
    except TypeError as exc:
        raise ConfigError(f"rule {name!r}: {exc}") from None
    return functools.partial(rule, **params) if params else rule


def takes_weights(name: str) -> bool:
    """Whether the rule registered under ``name`` takes juror weights: a keyword-only ``weights`` parameter."""
    parameter = inspect.signature(RULES.get(name)).parameters.get("weights")
    return parameter is not None and parameter.kind is inspect.Parameter.KEYWORD_ONLY


def seat_rule(name: str, params: Mapping[str, Any], weights: Mapping[str, float]) -> Rule:
    """The rule ``name`` of a jury whose jurors weigh ``weights`` (juror name → weight): ``params`` bound, and
    ``weights`` too when the rule takes them and ``params`` does not give them.

    Raises:
        ConfigError: as ``get_rule``.
    """
    if "weights" not in params and takes_weights(name):
        params = {**params, "weights": weights}
    return get_rule(name, **params)


def leader(votes: Sequence[float], quota: float = 0.0) -> int | None:
    """The answer with the unique highest total if it holds more than ``quota`` of all votes; None otherwise.

    Totals equal up to float rounding tie.
    """
    top = max(votes, default=0.0)
    leaders = [i for i, total in enumerate(votes) if math.isclose(total, top, rel_tol=1e-9, abs_tol=1e-12)]
    return leaders[0] if len(leaders) == 1 and top > quota * sum(votes) else None


def settle(
    verdicts: Sequence[Verdict],
    rule: str,
    votes: Sequence[float],
    outcome: int | None,
    probability: float | None = None,
    flags: Sequence[str] = (),
) -> Decision:
    """The decision for ``outcome`` (None: inconclusive), with who abstained, the dissent and the winners'
    confidence; without a single vote cast it is inconclusive whatever ``outcome`` says.
    """
    voters = [v for v in verdicts if _votes(v)]
    won = outcome if voters else None
    backing = [v for v in voters if v.choice == won]
    return Decision(
        outcome="inconclusive" if won is None else won,
        rule=rule,
        votes=list(votes),
        confidence=sum(v.confidence for v in backing) / len(backing) if backing else None,
        probability=None if won is None else probability,
        abstained=[v.judge for v in verdicts if not _votes(v)],
        dissent=[f"{v.judge}: {v.reasoning}" for v in voters if v.choice != won],
        flags=list(flags),
    )


def tally(
    verdicts: Sequence[Verdict],
    n_answers: int,
    rule: str,
    weights: Sequence[float] | None = None,
    quota: float = 0.0,
) -> Decision:
    """A decision from vote totals (``weights[i]`` per vote of ``verdicts[i]``, else 1): the unique top answer
    wins if it holds more than ``quota`` of the votes.
    """
    votes = [0.0] * n_answers
    for choice, weight in zip(_choices(verdicts, n_answers), weights or [1.0] * len(verdicts), strict=True):
        if choice is not None:
            votes[choice] += weight
    return settle(verdicts, rule, votes, leader(votes, quota))


@aggregator("majority")
def majority(verdicts: Sequence[Verdict], n_answers: int) -> Decision:
    """One vote per juror; an answer needs more than half of the votes cast, else inconclusive."""
    return tally(verdicts, n_answers, "majority", quota=0.5)


@aggregator("plurality")
def plurality(verdicts: Sequence[Verdict], n_answers: int) -> Decision:
    """One vote per juror; the answer with the most votes wins, whatever its share."""
    return tally(verdicts, n_answers, "plurality")


@aggregator("weighted")
def weighted(verdicts: Sequence[Verdict], n_answers: int, *, weights: Mapping[str, float]) -> Decision:
    """Plurality where each vote counts its juror's weight: ``get_rule("weighted", weights={juror: weight})``.

    Raises:
        ConfigError: a voting juror without a weight, or a negative weight.
    """
    missing = sorted({v.judge for v in verdicts if _votes(v)} - set(weights))
    if missing:
        raise ConfigError(f"weighted: no weight for {', '.join(missing)}")
    negative = sorted(juror for juror, weight in weights.items() if weight < 0)
    if negative:
        raise ConfigError(f"weighted: negative weight for {', '.join(negative)}")
    return tally(verdicts, n_answers, "weighted", [weights.get(v.judge, 0.0) for v in verdicts])


@aggregator("confidence_weighted")
def confidence_weighted(verdicts: Sequence[Verdict], n_answers: int) -> Decision:
    """Plurality where each vote counts its juror's stated confidence / 100."""
    return tally(verdicts, n_answers, "confidence_weighted", [v.confidence / 100 for v in verdicts])


@aggregator("log_odds")
def log_odds(verdicts: Sequence[Verdict], n_answers: int) -> Decision:
    """Logarithmic pooling of stated confidences; ``votes`` are the pooled probabilities.

    Each voter gives its choice the probability ``confidence / 100`` clipped to ``LOG_ODDS_CLIP`` and spreads the
    rest evenly over the other answers. Each answer's log-odds against a common reference are summed over the
    voters, and a softmax turns the sums into probabilities; with two answers the pooled log-odds are the sum of the
    voters' log-odds. ``Decision.probability`` is the winner's pooled probability.
    """
    scores = [0.0] * n_answers
    low, high = LOG_ODDS_CLIP
    for v, choice in zip(verdicts, _choices(verdicts, n_answers), strict=True):
        if choice is None:
            continue
        p = min(max(v.confidence / 100, low), high)
        rest = math.log((1 - p) / max(n_answers - 1, 1))
        scores = [s + (math.log(p) if i == choice else rest) for i, s in enumerate(scores)]
    top = max(scores)
    likelihood = [math.exp(s - top) for s in scores]
    total = sum(likelihood)
    pooled = [x / total for x in likelihood]
    outcome = leader(pooled)
    return settle(verdicts, "log_odds", pooled, outcome, None if outcome is None else pooled[outcome])


@aggregator("borda")
def borda(verdicts: Sequence[Verdict], n_answers: int) -> Decision:
    """Borda count: the answer a voter ranks r-th (from 0) scores ``n_answers - 1 - r`` points.

    Answers a voter leaves out of its ``ranking`` tie below the ranked ones and share the points of the places they
    fill equally; a verdict without a ranking ranks its choice first and ties every other answer below it.

    Raises:
        ConfigError: a ranking that names an answer outside the ``n_answers`` answers.
    """
    points = [0.0] * n_answers
    for v, choice in zip(verdicts, _choices(verdicts, n_answers), strict=True):
        if choice is None:
            continue
        ranked = v.ranking or [choice]
        if max(ranked) >= n_answers:
            raise ConfigError(f"borda: {v.judge} ranks {ranked}, outside the {n_answers} answers")
        for place, answer in enumerate(ranked):
            points[answer] += n_answers - 1 - place
        for answer in set(range(n_answers)) - set(ranked):
            points[answer] += (n_answers - 1 - len(ranked)) / 2
    return settle(verdicts, "borda", points, leader(points))


@aggregator("unanimity")
def unanimity(verdicts: Sequence[Verdict], n_answers: int) -> Decision:
    """Every juror who votes chooses the same answer; any disagreement is inconclusive. Abstentions do not count."""
    decision = tally(verdicts, n_answers, "unanimity")
    agreed = len(set(_choices(verdicts, n_answers)) - {None}) == 1
    return decision if agreed else settle(verdicts, "unanimity", decision.votes, None)


@aggregator("dawid_skene")
def dawid_skene(verdicts: Sequence[Verdict], n_answers: int, *, model: Reliability | None = None) -> Decision:
    """The most probable answer under a fitted Dawid–Skene model; ``votes`` are its posterior.

    Bind a model fitted on a run's items: ``get_rule("dawid_skene", model=fit_dawid_skene(items, n_answers))``.
    Jurors the model was not fitted on carry no weight and are flagged ``unknown-juror:<name>``. Without a model (a
    scenario's ``jury: {rule: dawid_skene}``, fitted on the whole run once it finishes: ``agora.aggregation.fitting``)
    the decision is the majority's, provisional, and its ``rule`` says so.

    Raises:
        ConfigError: a model that is not a ``Reliability``, or one fitted on another number of answers.
    """
    if model is None:
        return tally(verdicts, n_answers, PROVISIONAL, quota=0.5)
    from agora.aggregation.reliability import Reliability

    if not isinstance(model, Reliability):
        raise ConfigError(f"dawid_skene: model must be a fitted Reliability, got {type(model).__name__}")
    if model.n_answers != n_answers:
        raise ConfigError(f"dawid_skene: the model was fitted on {model.n_answers} answers, not {n_answers}")
    voters = [v for v, choice in zip(verdicts, _choices(verdicts, n_answers), strict=True) if choice is not None]
    unknown = [v.judge for v in voters if v.judge not in model.confusion]
    posterior = model.posterior(verdicts).tolist()
    outcome = leader(posterior) if len(unknown) < len(voters) else None
    probability = None if outcome is None else posterior[outcome]
    flags = [f"unknown-juror:{juror}" for juror in unknown]
    return settle(verdicts, "dawid_skene", posterior, outcome, probability, flags)


PROVISIONAL = "dawid_skene (provisional: majority)"
"""The ``rule`` of a ``dawid_skene`` decision made before any fit: the majority's."""


def _votes(verdict: Verdict) -> bool:
    """Whether ``verdict`` casts a vote (it neither abstains nor lacks a choice)."""
    return verdict.choice is not None and not verdict.abstained


def _choices(verdicts: Sequence[Verdict], n_answers: int) -> list[int | None]:
    """Each verdict's choice, or None when it casts no vote; a choice outside the answers is a ``ConfigError``."""
    for v in verdicts:
        if v.choice is not None and v.choice >= n_answers:
            raise ConfigError(f"{v.judge} chose answer {v.choice}, outside the {n_answers} answers")
    return [v.choice if _votes(v) else None for v in verdicts]
