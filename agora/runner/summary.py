"""The results table printed at the end of a run: accuracy per protocol and judge, and probe rates."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from agora.runner.record import Record

DECISION = "decision"
"""The judge column of the judging seat's decision (the jury's, when several judges sit)."""


@dataclass
class Row:
    """One protocol and judge: items with gold answered, correct ones, abstentions, failed tasks."""

    protocol: str
    judge: str
    n: int = 0
    correct: int = 0
    abstained: int = 0
    errors: int = 0

    @property
    def accuracy(self) -> float | None:
        """Correct over the items answered, an undecided one counting as not right (as in ``agora report``)."""
        return self.correct / self.n if self.n else None

    @property
    def coverage(self) -> float | None:
        """Share of the items the judge decided."""
        return (self.n - self.abstained) / self.n if self.n else None


@dataclass
class ProbeRow:
    """How often one judge fell for one probe."""

    check: str
    judge: str
    n: int = 0
    fell: int = 0
    skipped: int = 0

    @property
    def rate(self) -> float | None:
        return self.fell / self.n if self.n else None


def summarize(records: Iterable[Record]) -> tuple[list[Row], list[ProbeRow]]:
    """Accuracy rows (each judge's verdicts, then the seat's decision) and probe rows, in first-seen order."""
    rows: dict[tuple[str, str], Row] = {}
    probes: dict[tuple[str, str], ProbeRow] = {}
    errors: dict[str, int] = defaultdict(int)
    for record in records:
        if record.status == "error":
            errors[record.protocol] += 1
            continue
        for check, judges in record.probes.items():
            for judge, fell in judges.items():
                probe = probes.setdefault((check, judge), ProbeRow(check, judge))
                if fell is None:
                    probe.skipped += 1
                else:
                    probe.n += 1
                    probe.fell += fell
        if record.gold is None or record.decision is None:
            continue
        latest = {v.judge: v for v in record.verdicts}
        for judge, verdict in latest.items():
            _count(rows.setdefault((record.protocol, judge), Row(record.protocol, judge)), verdict.choice, record.gold)
        outcome = record.decision.outcome
        _count(
            rows.setdefault((record.protocol, DECISION), Row(record.protocol, DECISION)),
            outcome if isinstance(outcome, int) else None,
            record.gold,
        )
    table = list(rows.values())
    for protocol, count in errors.items():
        for row in table:
            if row.protocol == protocol:
                row.errors = count
        if not any(row.protocol == protocol for row in table):
            table.append(Row(protocol, DECISION, errors=count))
    return table, list(probes.values())


def _count(row: Row, choice: int | None, gold: int) -> None:
    row.n += 1
    if choice is None:
        row.abstained += 1
    elif choice == gold:
        row.correct += 1
