"""What a tournament tells about its debater models: how often the decision goes to the side a model argues, right
or wrong, and whether the judge finds the truth more often when a stronger model argues it.

Only the tasks of a tournament count (their records name each speaker's model), with a decision on an item with gold;
an undecided decision goes to no side.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from agora.metrics import bootstrap
from agora.metrics.types import Matchup, Rating, RatingTrend, SideWins
from agora.runner.record import Record

JOIN = " + "
"""Joins the models of the wrong sides of a debate over more than two answers."""

MIN_ROWS = 3
"""Fewest matchups rated on both sides that give a trend."""

K = TypeVar("K", bound=tuple[Any, ...])
V = TypeVar("V")


def side_wins(records: Iterable[Record], *, seed: int = 0) -> tuple[SideWins, ...]:
    """Per protocol (in the order of ``records``) and debater model (by name): how often the decision went to the
    side the model argued when that side was right, and when it was wrong, each with its bootstrap interval.

    A model counts once per task on each footing: a model that argues several wrong answers in one task (alone in a
    debate over three answers) won it when the decision went to any of them.
    """
    won: dict[tuple[str, str], tuple[list[float], list[float]]] = {}
    for record in _settled(records):
        outcome = _outcome(record)
        for model, sides in _sides_by_model(record).items():
            right, wrong = won.setdefault((record.protocol, model), ([], []))
            if record.gold in sides:
                right.append(float(outcome == record.gold))
            if falsehoods := sides - {record.gold}:
                wrong.append(float(outcome in falsehoods))
    return tuple(
        SideWins(protocol, model, bootstrap.mean(right, seed=seed), bootstrap.mean(wrong, seed=seed))
        for (protocol, model), (right, wrong) in _ordered(won)
    )


def matchups(records: Iterable[Record], ratings: Sequence[Rating], *, seed: int = 0) -> tuple[Matchup, ...]:
    """Per protocol (in the order of ``records``) and pair of models on the right and the wrong side: the accuracy of
    the seat's decision (an undecided one is not right) with its bootstrap interval, and each side's Elo in
    ``ratings``."""
    elo = {r.player: r.elo.value for r in ratings}
    found: dict[tuple[str, str | None, str | None], list[float]] = {}
    for record in _settled(records):
        models = _models(record)
        right = _join(model for name, model in models.items() if record.sides[name] == record.gold)
        wrong = _join(model for name, model in models.items() if record.sides[name] != record.gold)
        found.setdefault((record.protocol, right, wrong), []).append(float(_outcome(record) == record.gold))
    return tuple(
        Matchup(protocol, right, wrong, _elo(elo, right), _elo(elo, wrong), bootstrap.mean(values, seed=seed))
        for (protocol, right, wrong), values in _ordered(found)
    )


def trends(matchups: Sequence[Matchup]) -> tuple[RatingTrend, ...]:
    """Per protocol with matchups rated on both sides: Pearson's r between the right side's Elo lead and the
    judge's accuracy over those matchups (scipy), unweighted."""
    points: dict[str, list[tuple[float, float]]] = {}
    for m in matchups:
        if m.elo_right is not None and m.elo_wrong is not None and m.accuracy.value is not None:
            points.setdefault(m.protocol, []).append((m.elo_right - m.elo_wrong, m.accuracy.value))
    return tuple(RatingTrend(protocol, _pearson(found), len(found)) for protocol, found in points.items())


def _settled(records: Iterable[Record]) -> Iterator[Record]:
    """The tasks of a tournament with a decision on an item with gold."""
    return (r for r in records if r.status == "ok" and r.gold is not None and r.decision is not None and _models(r))


def _models(record: Record) -> dict[str, str]:
    """Speaker → the model that played it, for the speakers that argued a side."""
    return {name: record.models[name] for name in record.sides if name in record.models}


def _sides_by_model(record: Record) -> dict[str, set[int]]:
    """Model → the answers its speakers argued in ``record``."""
    found: dict[str, set[int]] = {}
    for name, model in _models(record).items():
        found.setdefault(model, set()).add(record.sides[name])
    return found


def _outcome(record: Record) -> int | None:
    """The answer the decision went to; ``None`` when it went to none."""
    outcome = record.decision.outcome if record.decision else None
    return outcome if isinstance(outcome, int) else None


def _join(models: Iterable[str]) -> str | None:
    """The distinct ``models`` of one side, sorted and joined; ``None`` for a side nobody argued."""
    return JOIN.join(sorted(set(models))) or None


def _elo(elo: Mapping[str, float | None], player: str | None) -> float | None:
    return None if player is None else elo.get(player)


def _ordered(found: Mapping[K, V]) -> list[tuple[K, V]]:
    """``found``'s entries by protocol (the key's first part) in the order first met, then by the rest of the key,
    a missing part first."""
    order = {protocol: i for i, protocol in enumerate(dict.fromkeys(key[0] for key in found))}
    return sorted(found.items(), key=lambda kv: (order[kv[0][0]], *(part or "" for part in kv[0][1:])))


def _pearson(points: Sequence[tuple[float, float]]) -> float | None:
    """Pearson's r of ``points``; ``None`` with fewer than ``MIN_ROWS`` or when either coordinate is constant."""
    from scipy.stats import pearsonr

    xs, ys = [x for x, _ in points], [y for _, y in points]
    if len(points) < MIN_ROWS or len(set(xs)) < 2 or len(set(ys)) < 2:
        return None
    return float(pearsonr(xs, ys).statistic)
