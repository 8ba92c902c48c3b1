"""Accuracy and selective accuracy: how often a judge is right, and how that trades against how often it answers.

A judge's outcome on an item is its stated confidence (0-100) and whether it was right, or ``None`` when it did not
decide (it abstained, or the decision was inconclusive). Undecided items count as not right in accuracy and as not
covered in coverage.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence

from agora.metrics import bootstrap
from agora.metrics.types import Estimate, RiskCoverage

Outcome = tuple[float, bool] | None
"""(stated confidence 0-100, right) for a decided item; ``None`` for an undecided one."""


def accuracy(outcomes: Sequence[Outcome], *, seed: int = 0) -> Estimate:
    """Share of items the judge got right (undecided ones are not right), with its bootstrap interval."""
    return bootstrap.mean([float(o is not None and o[1]) for o in outcomes], seed=seed)


def selective(outcomes: Sequence[Outcome], threshold: float) -> tuple[float | None, float | None]:
    """(coverage, selective accuracy) when only decisions stated with confidence ≥ ``threshold`` count."""
    if not outcomes:
        return None, None
    kept = [o[1] for o in outcomes if o is not None and o[0] >= threshold]
    return len(kept) / len(outcomes), (sum(kept) / len(kept) if kept else None)


def cross_fitted(
    outcomes: Sequence[Outcome], *, min_coverage: float = 0.5, folds: int = 2, seed: int = 0
) -> tuple[float, Estimate]:
    """(coverage, selective accuracy) with each item's confidence threshold chosen on the other items.

    The items are dealt into ``folds`` seeded folds. For each fold, the threshold is the one with the best selective
    accuracy on the other folds among those that keep at least ``min_coverage`` of them (the lowest such threshold
    on a tie; 0 when none keeps that many), and it is applied to the fold. The items kept in every fold are pooled:
    a selective accuracy measured on items the threshold was not fitted to, with its bootstrap interval. The pooled
    coverage is what the thresholds kept, which may be below ``min_coverage``.
    """
    if folds < 2:
        raise ValueError("cross_fitted: folds must be at least 2")
    order = list(range(len(outcomes)))
    random.Random(seed).shuffle(order)
    fold_of = {index: k % folds for k, index in enumerate(order)}
    kept: list[float] = []
    for fold in range(folds):
        fitting = [o for i, o in enumerate(outcomes) if fold_of[i] != fold]
        threshold, best = 0.0, -1.0
        for t in sorted({o[0] for o in fitting if o is not None}):
            coverage, chosen = selective(fitting, t)
            if coverage is not None and coverage >= min_coverage and chosen is not None and chosen > best:
                threshold, best = t, chosen
        held = [o for i, o in enumerate(outcomes) if fold_of[i] == fold]
        kept += [float(o[1]) for o in held if o is not None and o[0] >= threshold]
    return (len(kept) / len(outcomes) if outcomes else 0.0), bootstrap.mean(kept, seed=seed)


def risk_coverage(outcomes: Sequence[Outcome]) -> RiskCoverage:
    """Coverage and selective accuracy at each stated confidence, and the area under the risk-coverage curve.

    The area (AURC, Geifman et al. 2019) is the mean, over the decided items taken from most to least confident, of
    the error rate among those taken so far; items stated with equal confidence are taken together. Lower is
    better: a judge whose confidence ranks its right answers first has a small area.
    """
    decided = sorted((o for o in outcomes if o is not None), key=lambda o: -o[0])
    thresholds = sorted({confidence for confidence, _ in decided})
    points = [selective(outcomes, t) for t in thresholds]
    risks: list[float] = []
    taken = wrong = 0
    for _, group in itertools.groupby(decided, key=lambda o: o[0]):
        rights = [right for _, right in group]
        taken += len(rights)
        wrong += rights.count(False)
        risks += [wrong / taken] * len(rights)
    return RiskCoverage(
        thresholds=tuple(thresholds),
        coverage=tuple(c or 0.0 for c, _ in points),
        selective_accuracy=tuple(a for _, a in points),
        aurc=sum(risks) / len(risks) if risks else None,
    )
