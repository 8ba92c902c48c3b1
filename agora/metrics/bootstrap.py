"""Bootstrap confidence intervals (scipy's BCa, falling back to percentile where BCa is undefined)."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from agora.metrics.types import Estimate

LEVEL = 0.95
RESAMPLES = 2000


def interval(
    samples: Sequence[Sequence[float]],
    statistic: Callable[..., Any],
    *,
    seed: int,
    paired: bool = False,
    resamples: int = RESAMPLES,
) -> tuple[float | None, float | None]:
    """The 95% bootstrap interval of ``statistic`` (vectorised, taking ``axis``) over ``samples``.

    BCa is used where it is defined; on data without spread it is not, and the percentile interval is given
    (which then collapses onto the value: the bootstrap cannot see variation the sample does not show).
    Fewer than two observations give ``(None, None)``.
    """
    from scipy.stats import bootstrap

    if min(len(s) for s in samples) < 2:
        return None, None
    data = tuple(np.asarray(s, dtype=float) for s in samples)
    for method in ("BCa", "percentile"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # scipy warns on degenerate data; the fallback handles it
            result = bootstrap(
                data,
                statistic,
                n_resamples=resamples,
                confidence_level=LEVEL,
                method=method,
                paired=paired,
                vectorized=True,
                rng=np.random.default_rng(seed),
            )
        low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
        if np.isfinite(low) and np.isfinite(high):
            return low, high
    return None, None


def mean(values: Sequence[float], *, seed: int) -> Estimate:
    """The mean of ``values`` (a rate, for booleans) with its bootstrap interval."""
    if not values:
        return Estimate(None, None, None, 0)
    low, high = interval([values], np.mean, seed=seed)
    return Estimate(float(np.mean(values)), low, high, len(values))
