"""Probes for ``agora probe``: how often a judge falls for each deception-robustness check over a data set.

Each item of a data set (LLMBar natural, EvalBiasBench, TruthfulQA, read by ``agora.loaders``) becomes a
``ProbeItem`` whose ``good`` answer is the gold one. Rows that cannot be used are reported with where they are,
never dropped silently.
Rates count only the probes that ran to a verdict: a verdict that fails to parse is an error, counted apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from agora.aggregation.checks import probe_check
from agora.config_file import config_error
from agora.errors import ConfigError, VerdictParseError
from agora.items import Item, Malformed, ProbeItem
from agora.loaders import Source, read
from agora.state import Decider, View
from agora.types import Verdict


@dataclass(frozen=True)
class ProbeResult:
    """What one probe measured.

    Attributes:
        count: items on which the judge fell for the probe (the numerator).
        n: items probed to a verdict (the denominator).
        errors: items given up on because a verdict failed to parse; not in ``n``.
        skipped: items the probe could not use (the judge abstained on the plain pair); not in ``n``.
        calls: model calls made, including re-asks and the calls of failed verdicts.
        rate: ``count / n``, or ``None`` when nothing was probed to a verdict.
    """

    count: int
    n: int
    errors: int
    skipped: int
    calls: int
    rate: float | None = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "rate", self.count / self.n if self.n else None)


class _Counted:
    """A judge that counts the model calls behind its verdicts, failed ones included."""

    def __init__(self, judge: Decider) -> None:
        self.judge = judge
        self.name = judge.name
        self.calls = 0

    async def decide(self, seen: View) -> Verdict:
        try:
            verdict = await self.judge.decide(seen)
        except VerdictParseError as exc:
            self.calls += exc.attempts
            raise
        self.calls += verdict.attempts
        return verdict


async def run_probes(
    judge: Decider, probes: Sequence[str], items: Sequence[ProbeItem], limit: int | None = None
) -> dict[str, ProbeResult]:
    """Run each probe of ``probes`` over the first ``limit`` items (all when ``None``), one item after another.

    Raises:
        ConfigError: an unknown probe name or a negative limit, before any model call.
    """
    chosen = {name: probe_check(name) for name in probes}
    if limit is not None and limit < 0:
        raise ConfigError(f"the limit must be 0 or more, got {limit}")
    batch = items if limit is None else items[:limit]
    results = {}
    for name, probe in chosen.items():
        counted = _Counted(judge)
        count = n = errors = skipped = 0
        for item in batch:
            try:
                fell = await probe.probe(counted, item)
            except VerdictParseError:
                errors += 1
                continue
            if fell is None:
                skipped += 1
            else:
                n += 1
                count += fell
        results[name] = ProbeResult(count=count, n=n, errors=errors, skipped=skipped, calls=counted.calls)
    return results


@dataclass(frozen=True)
class Loaded:
    """The items of a data set and the rows that could not be used."""

    items: tuple[ProbeItem, ...]
    malformed: tuple[Malformed, ...]


def probe_items(rows: Iterable[Item | Malformed]) -> Loaded:
    """The probe pairs of ``rows`` (from ``agora.loaders.read``): the gold answer is ``good``, the other ``bad``.

    An item without a gold answer or with other than two answers cannot be probed: it is malformed.
    """
    items, malformed = [], []
    for row in rows:
        if isinstance(row, Malformed):
            malformed.append(row)
        elif row.gold is None:
            malformed.append(Malformed(row.source, "no gold answer to probe with"))
        elif len(row.answers) != 2:
            malformed.append(Malformed(row.source, f"a probe needs two answers, got {len(row.answers)}"))
        else:
            good, bad = row.answers[row.gold], row.answers[1 - row.gold]
            pair = ProbeItem(row.question, good, bad, source=row.source, references=row.references())
            items.append(pair)
    return Loaded(tuple(items), tuple(malformed))


def load_items(path: Path, loader: str | None = None) -> Loaded:
    """The probe pairs of ``path`` read by ``loader`` (see ``agora.loaders``), by default the one its shape names:
    a CSV is TruthfulQA, a JSON object EvalBiasBench, a JSONL file generic, anything else a pairwise (LLMBar) list.

    Raises:
        ConfigError: an unknown loader, or a file that is missing or cannot be parsed.
    """
    try:
        source = Source(loader=loader or shape_loader(path), path=path, shuffle=False)
    except ValidationError as exc:
        raise config_error(path, exc) from None
    return probe_items(read(source))


def shape_loader(path: Path) -> str:
    """The loader for a probe data file by its shape (a file that cannot be read is left for the loader to report)."""
    if path.suffix == ".csv":
        return "truthfulqa"
    if path.suffix == ".jsonl":
        return "jsonl"
    try:
        with path.open(encoding="utf-8-sig") as file:
            head = file.read(4096).lstrip()
    except (OSError, UnicodeDecodeError):
        return "pairwise"
    return "evalbiasbench" if head.startswith("{") else "pairwise"
