"""Calibration of stated confidence: does a judge that says 80 turn out right 80% of the time?"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from agora.metrics.types import Bin, Calibration

BINS = 10


def calibration(confidence: Sequence[float], right: Sequence[bool], *, bins: int = BINS) -> Calibration:
    """ECE over ``bins`` equal-width bins, Brier score (scikit-learn) and the reliability diagram's bins.

    ``confidence`` is the probability (0-1) a judge gave its own choice; ``right`` whether the choice was right.
    A bin holds the confidences in ``(lower, upper]`` (the first also holds 0). ECE is the bins' gap between mean
    confidence and accuracy, weighted by their share of the items (Guo et al. 2017).
    """
    from sklearn.metrics import brier_score_loss

    if len(confidence) != len(right):
        raise ValueError(f"{len(confidence)} confidences for {len(right)} outcomes")
    p = np.clip(np.asarray(confidence, dtype=float), 0.0, 1.0)
    y = np.asarray(right, dtype=bool)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.digitize(p, edges[1:-1], right=True)
    table = []
    ece = 0.0
    for b in range(bins):
        inside = which == b
        n = int(inside.sum())
        mean_confidence = float(p[inside].mean()) if n else None
        accuracy = float(y[inside].mean()) if n else None
        if n:
            ece += n / len(p) * abs(float(y[inside].mean()) - float(p[inside].mean()))
        table.append(Bin(float(edges[b]), float(edges[b + 1]), mean_confidence, accuracy, n))
    if not len(p):
        return Calibration(None, None, tuple(table), 0)
    brier = float(brier_score_loss(y.astype(int), p, labels=[0, 1]))
    return Calibration(ece, brier, tuple(table), len(p))
