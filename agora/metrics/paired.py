"""Paired comparisons of two protocols on the same items: the accuracy difference with a paired-bootstrap
interval, and McNemar's exact test on the items only one of them got right (statsmodels)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from agora.metrics import bootstrap
from agora.metrics.types import Estimate, Paired


def paired(
    right_a: Mapping[str, bool | None],
    right_b: Mapping[str, bool | None],
    /,
    *,
    a: str,
    b: str,
    judge: str,
    seed: int = 0,
) -> Paired:
    """Compare ``a`` and ``b`` (item id → right; ``None``, undecided, counts as not right) on the items both have."""
    from statsmodels.stats.contingency_tables import mcnemar

    shared = [item for item in right_a if item in right_b]
    x = [float(bool(right_a[i])) for i in shared]
    y = [float(bool(right_b[i])) for i in shared]
    a_only = sum(1 for p, q in zip(x, y, strict=True) if p > q)
    b_only = sum(1 for p, q in zip(x, y, strict=True) if q > p)
    if not shared:
        return Paired(a, b, judge, Estimate(None, None, None, 0), None, 0, 0)
    low, high = bootstrap.interval([x, y], _difference, seed=seed, paired=True)
    both = sum(1 for p, q in zip(x, y, strict=True) if p and q)
    table = [[both, a_only], [b_only, len(shared) - both - a_only - b_only]]
    p_value = float(mcnemar(table, exact=True).pvalue)
    difference = Estimate(float(np.mean(x) - np.mean(y)), low, high, len(shared))
    return Paired(a, b, judge, difference, p_value, a_only, b_only)


def _difference(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(x, axis=axis) - np.mean(y, axis=axis)
