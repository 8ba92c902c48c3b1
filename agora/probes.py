"""Probes for ``agora probe``: how often a judge falls for each deception-robustness check over a data set.

Each row of a data set (LLMBar natural, EvalBiasBench, TruthfulQA) becomes a ``ProbeItem`` whose ``good``
answer is the gold one. Rows that cannot be used are reported with where they are, never dropped silently.
Rates count only the probes that ran to a verdict: a verdict that fails to parse is an error, counted apart.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agora.aggregation.checks import probe_check
from agora.errors import ConfigError, VerdictParseError
from agora.state import View
from agora.types import Verdict

if TYPE_CHECKING:
    from agora.protocols.nodes import Decider

TRUTHFULQA_COLUMNS = ("Question", "Best Answer", "Best Incorrect Answer")


@dataclass(frozen=True)
class ProbeItem:
    """A question, its gold (``good``) answer and a wrong (``bad``) one; ``source`` says where the row came from."""

    question: str
    good: str
    bad: str
    source: str = ""

    def view(self) -> View:
        """The pair as a judge sees it: the good answer first."""
        return View(question=self.question, answers=(self.good, self.bad))


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
class Malformed:
    """A row that could not be used: where it is (``file:index``, 0-based) and why."""

    source: str
    reason: str


@dataclass(frozen=True)
class Loaded:
    """The items of a data set and the rows that could not be used."""

    items: tuple[ProbeItem, ...]
    malformed: tuple[Malformed, ...]


def load_items(path: Path) -> Loaded:
    """The items of ``path``, by its shape: a CSV is TruthfulQA, a JSON list LLMBar, a JSON object EvalBiasBench."""
    if path.suffix == ".csv":
        return load_truthfulqa(path)
    data = _read_json(path)
    if isinstance(data, list):
        return _llmbar(path, data)
    if isinstance(data, dict):
        return _evalbiasbench(path, data)
    raise ConfigError(f"{path}: expected a JSON list (LLMBar) or object (EvalBiasBench), got {type(data).__name__}")


def load_llmbar(path: Path) -> Loaded:
    """LLMBar rows ``{input, output_1, output_2, label}``: ``label`` (1 or 2) names the output that is good."""
    data = _read_json(path)
    if not isinstance(data, list):
        raise ConfigError(f"{path}: expected a JSON list of rows, got {type(data).__name__}")
    return _llmbar(path, data)


def load_evalbiasbench(path: Path) -> Loaded:
    """EvalBiasBench ``{bias: [{instruction, response1, response2, label}]}``; sources are ``file:bias:index``."""
    data = _read_json(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object of bias -> rows, got {type(data).__name__}")
    return _evalbiasbench(path, data)


def load_truthfulqa(path: Path) -> Loaded:
    """TruthfulQA CSV rows: the question, its best answer (good) and its best incorrect answer (bad)."""
    try:
        with path.open(newline="", encoding="utf-8") as file:
            reader = csv.DictReader(file)
            missing = [c for c in TRUTHFULQA_COLUMNS if c not in (reader.fieldnames or ())]
            if missing:
                raise ConfigError(f"{path}: missing columns {', '.join(missing)}")
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError(f"{path}: cannot read the CSV: {exc}") from None
    return _collect(
        ((f"{path.name}:{i}", row) for i, row in enumerate(rows)), lambda s, row: _pair(s, row, *TRUTHFULQA_COLUMNS)
    )


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the data set: {exc.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: not valid JSON: {exc}") from None


def _llmbar(path: Path, data: list[Any]) -> Loaded:
    return _collect(
        ((f"{path.name}:{i}", row) for i, row in enumerate(data)),
        lambda s, row: _pair(s, row, "input", "output_1", "output_2", "label"),
    )


def _evalbiasbench(path: Path, data: dict[str, Any]) -> Loaded:
    bad = [bias for bias, rows in data.items() if not isinstance(rows, list)]
    if bad:
        raise ConfigError(f"{path}: the rows of bias {bad[0]!r} are not a list")
    rows = ((f"{path.name}:{bias}:{i}", row) for bias, group in data.items() for i, row in enumerate(group))
    return _collect(rows, lambda s, row: _pair(s, row, "instruction", "response1", "response2", "label"))


def _collect(rows: Iterable[tuple[str, Any]], convert: Callable[[str, Any], ProbeItem]) -> Loaded:
    """Every row converted, or reported with the ``ValueError`` that ``convert`` raised for it."""
    items, malformed = [], []
    for source, row in rows:
        try:
            items.append(convert(source, row))
        except ValueError as exc:
            malformed.append(Malformed(source, str(exc)))
    return Loaded(tuple(items), tuple(malformed))


def _pair(source: str, row: Any, question: str, first: str, second: str, label: str | None = None) -> ProbeItem:
    """The item of ``row`` from the cells named ``question``, ``first``, ``second`` (answers) and ``label`` (1 or 2:
    the good answer); with no label cell the first answer is the good one.

    Raises:
        ValueError: a cell is missing or empty, the label is not 1 or 2, or the answers are the same.
    """
    if not isinstance(row, dict):
        raise ValueError(f"a row must be an object, got {type(row).__name__}")
    gold = 1 if label is None else row.get(label)
    if isinstance(gold, bool) or gold not in (1, 2):
        raise ValueError(f"{label!r} must be 1 or 2, got {gold!r}")
    one, two = _text(row, first), _text(row, second)
    good, bad = (one, two) if gold == 1 else (two, one)
    if good.strip() == bad.strip():
        raise ValueError("the two answers are the same")
    return ProbeItem(question=_text(row, question), good=good, bad=bad, source=source)


def _text(row: dict[str, Any], key: str) -> str:
    """The non-empty string in cell ``key`` of ``row``; a ``ValueError`` otherwise."""
    value = row.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{key!r} is missing or empty")
    return value
