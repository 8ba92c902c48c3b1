"""Accuracy and selective accuracy: how often a judge is right, and how that trades against how often it answers.

A judge's outcome on an item is its stated confidence (0-100) and whether it was right, or ``None`` when it did not
decide (it abstained, or the decision was inconclusive). Undecided items count as not right in accuracy and as not
covered in coverage.
"""

from __future__ import annotations

import itertools
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
