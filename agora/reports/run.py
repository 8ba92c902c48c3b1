"""What a report shows of a run, read from its run store alone: the metrics, the items and the records; and how two
runs line up for ``agora compare``."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from agora.items import Item, Malformed
from agora.metrics.types import Headline, Paired, RunMetrics
from agora.runner.record import Record
from agora.types import Decision


@dataclass(frozen=True)
class RunReport:
    """One run as a report sees it: its metrics and, for the item viewer, its items and records."""

    directory: Path
    metrics: RunMetrics
    items: tuple[Item, ...]
    records: tuple[Record, ...]
    malformed: tuple[Malformed, ...]

    @property
    def manifest(self) -> dict[str, Any]:
        """The run's manifest (scenario, status, seed, git, models …)."""
        return dict(self.metrics.manifest)

    @property
    def status(self) -> str:
        """``finished``, ``interrupted`` (a run whose process was killed or crashed too), or ``running``."""
        return str(self.manifest.get("status", "unknown"))

    @property
    def partial(self) -> bool:
        """Whether the run may lack records: still running, interrupted or crashed."""
        return self.metrics.partial or self.status != "finished"

    @property
    def name(self) -> str:
        """The scenario's name."""
        return self.metrics.name

    @property
    def fitted(self) -> dict[str, Decision]:
        """Task key → the decision of the jury fitted on the run; empty unless its rule is fitted (dawid_skene)."""
        return self.metrics.fitted.decisions() if self.metrics.fitted else {}

    def counts(self) -> dict[str, int]:
        """Records by status (``ok``, ``error``)."""
        return dict(Counter(r.status for r in self.records))


def read_run(directory: Path, *, threshold: float | None = None, seed: int = 0) -> RunReport:
    """Read a run directory, finished or not, and compute its metrics; no model is called.

    Args:
        directory: the run directory (holding ``run.sqlite``).
        threshold: stated confidence (0-100) for coverage; ``None``: the scenario's ``jury.min_confidence``.
        seed: the seed of every bootstrap.

    Raises:
        ConfigError: ``directory`` holds no readable run store.
    """
    from agora.metrics.measure import measure
    from agora.runner.store import RunStore, abandoned

    store = RunStore(directory, readonly=True)
    try:
        metrics = measure(store, threshold=threshold, seed=seed)
        items, records, malformed = tuple(store.items()), tuple(store.records()), tuple(store.malformed())
    finally:
        store.close()
    if abandoned(directory, metrics.manifest):  # marked running, but its process is gone: killed or crashed
        metrics = replace(metrics, manifest={**metrics.manifest, "status": "interrupted"})
    return RunReport(directory, metrics, items, records, malformed)


@dataclass(frozen=True)
class CompareRow:
    """One protocol and judge in two runs: each run's headline row (``None`` when absent there) and the paired
    difference A - B on the items both runs have (``None`` unless both have the row)."""

    protocol: str
    judge: str
    a: Headline | None
    b: Headline | None
    paired: Paired | None


def compare_rows(a: RunReport, b: RunReport, *, seed: int = 0) -> list[CompareRow]:
    """The headline rows of two runs matched by (protocol, judge), each match paired on the items both share."""
    from agora.metrics.measure import right
    from agora.metrics.paired import paired

    rows_a = {(h.protocol, h.judge): h for h in a.metrics.headline}
    rows_b = {(h.protocol, h.judge): h for h in b.metrics.headline}
    rows = []
    for protocol, judge in dict.fromkeys([*rows_a, *rows_b]):
        pair = None
        if (protocol, judge) in rows_a and (protocol, judge) in rows_b:
            right_a, right_b = right(a.records, protocol, judge, a.fitted), right(b.records, protocol, judge, b.fitted)
            pair = paired(right_a, right_b, a="A", b="B", judge=judge, seed=seed)
        rows.append(CompareRow(protocol, judge, rows_a.get((protocol, judge)), rows_b.get((protocol, judge)), pair))
    return rows
