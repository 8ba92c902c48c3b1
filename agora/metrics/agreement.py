"""Agreement that corrects for chance: Cohen's kappa between two raters (a judge and gold, or two judges), Fleiss'
kappa and Krippendorff's alpha across a jury. Percent agreement is given beside them for contrast, not instead.

Ratings are answer indices (nominal categories). A statistic that is undefined on the data (one category only,
fewer than two items) is ``None``, never a made-up 0 or 1.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence

import numpy as np

from agora.metrics.types import JuryAgreement


def percent(a: Sequence[int], b: Sequence[int]) -> float | None:
    """Share of items on which two raters gave the same rating."""
    return sum(x == y for x, y in zip(a, b, strict=True)) / len(a) if a else None


def cohen_kappa(a: Sequence[int], b: Sequence[int]) -> float | None:
    """Cohen's kappa of two raters over the same items (scikit-learn)."""
    from sklearn.metrics import cohen_kappa_score

    if len(a) != len(b):
        raise ValueError(f"{len(a)} ratings against {len(b)}")
    if len(a) < 2:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # undefined (0/0) when both raters use one and the same category
        value = float(cohen_kappa_score(a, b))
    return None if math.isnan(value) else value


def fleiss_kappa(ratings: Sequence[Sequence[int]]) -> float | None:
    """Fleiss' kappa of items × raters, every rater rating every item (statsmodels)."""
    from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

    if len(ratings) < 2 or len(ratings[0]) < 2:
        return None
    table, _ = aggregate_raters(np.asarray(ratings))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = float(fleiss_kappa(table, method="fleiss"))
    return None if math.isnan(value) else value


def krippendorff_alpha(ratings: Sequence[Sequence[float]]) -> float | None:
    """Krippendorff's alpha (nominal) of raters × items, ``nan`` where a rater did not rate (krippendorff)."""
    import krippendorff

    data = np.asarray(ratings, dtype=float)
    if data.ndim != 2 or data.shape[0] < 2:
        return None
    try:
        value = float(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"))
    except ValueError:  # fewer than two categories, or no item rated twice
        return None
    return None if math.isnan(value) else value


def jury_agreement(protocol: str, choices: Mapping[str, Mapping[str, int | None]]) -> JuryAgreement:
    """How much the judges of one protocol agree, from judge → item → choice (``None``: did not choose).

    Fleiss' kappa and percent agreement use the items every judge chose on; Krippendorff's alpha uses every item,
    a missing choice left missing; each pairwise Cohen's kappa uses the items both judges chose on.
    """
    judges = tuple(choices)
    items = list(dict.fromkeys(item for by_item in choices.values() for item in by_item))
    rows = []
    for item in items:
        row = [c for j in judges if (c := choices[j].get(item)) is not None]
        if len(row) == len(judges):
            rows.append(row)
    matrix = [[nan_if_none(choices[j].get(i)) for i in items] for j in judges]
    return JuryAgreement(
        protocol=protocol,
        judges=judges,
        fleiss_kappa=fleiss_kappa(rows) if rows else None,
        krippendorff_alpha=krippendorff_alpha(matrix),
        pairwise_kappa=tuple(tuple(_pair(choices[a], choices[b]) for b in judges) for a in judges),
        percent_agreement=sum(len(set(r)) == 1 for r in rows) / len(rows) if rows else None,
        n=len(rows),
    )


def nan_if_none(value: int | None) -> float:
    """A rating as krippendorff wants it: ``nan`` when missing."""
    return math.nan if value is None else float(value)


def _pair(a: Mapping[str, int | None], b: Mapping[str, int | None]) -> float | None:
    both = [(x, y) for item, x in a.items() if x is not None and (y := b.get(item)) is not None]
    return cohen_kappa([x for x, _ in both], [y for _, y in both])
