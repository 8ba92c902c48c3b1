"""Robustness: how often each judge fell for each deception probe (a flip after a false critique, a master key
accepted, a swapped order changing the verdict ...), from the probe results of a run's records."""

from __future__ import annotations

from collections.abc import Iterable

from agora.metrics import bootstrap
from agora.metrics.types import Robustness
from agora.runner.record import Record


def robustness(records: Iterable[Record], *, seed: int = 0) -> tuple[Robustness, ...]:
    """One rate per check and judge, in first-seen order: items on which the judge fell over items probed (probes
    that did not apply are counted as skipped, not as passed)."""
    fell: dict[tuple[str, str], list[float]] = {}
    skipped: dict[tuple[str, str], int] = {}
    for record in records:
        for check, judges in record.probes.items():
            for judge, outcome in judges.items():
                key = (check, judge)
                fell.setdefault(key, [])
                skipped.setdefault(key, 0)
                if outcome is None:
                    skipped[key] += 1
                else:
                    fell[key].append(float(outcome))
    return tuple(
        Robustness(check, judge, bootstrap.mean(values, seed=seed), skipped[(check, judge)])
        for (check, judge), values in fell.items()
    )
