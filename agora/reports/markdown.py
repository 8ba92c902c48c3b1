"""The Markdown report: the run's facts and the tables a researcher pastes; and ``agora compare``'s side by side."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape

from agora.reports.run import CompareRow, RunReport
from agora.reports.tables import Table, both_facts, facts, metric_tables, partial_note, side_by_side


def cell(value: str) -> str:
    """Run text safe in Markdown, table cells included: one line; ``&``, ``<`` and ``>`` as entities, so that no
    renderer passes a tag (``<script>``, ``<img onerror>``) or a comment through; backslashes and pipes escaped;
    ``](`` broken, so that no inline link or image (which would be fetched) forms."""
    text = escape(" ".join(value.split()), quote=False).replace("\\", "\\\\")
    return text.replace("|", "\\|").replace("](", "]\\(")


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A GitHub-flavoured Markdown table."""
    lines = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def section(found: Table, level: str) -> list[str]:
    """A table under its heading, its note below."""
    parts = [f"{level} {cell(found.title)}", ""]
    if found.rows:
        parts += [table(found.header, found.rows), ""]
    return parts + ([cell(found.note), ""] if found.note else [])


def warning(report: RunReport, tag: str = "") -> list[str]:
    """The partial-run warning as a quoted line, or nothing."""
    return [f"> **⚠ {cell(tag + partial_note(report))}**", ""] if report.partial else []


def render(report: RunReport) -> str:
    """The Markdown report of one run."""
    parts = [f"# Run report: {cell(report.name)}", "", *warning(report), table(("run", ""), facts(report)), ""]
    for found in metric_tables(report.metrics):
        parts += section(found, "##")
    return "\n".join(parts).rstrip() + "\n"


def render_compare(a: RunReport, b: RunReport, rows: Sequence[CompareRow]) -> str:
    """Two runs side by side: their facts, each protocol and judge with the paired difference, then each run's
    tables."""
    parts = [f"# Comparison: {cell(a.name)} (A) vs {cell(b.name)} (B)", ""]
    parts += [*warning(a, "Run A: "), *warning(b, "Run B: ")]
    facts_ = both_facts(a, b)
    parts += [table(facts_.header, facts_.rows), "", *section(side_by_side(rows), "##")]
    for tag, report in (("A", a), ("B", b)):
        parts += [f"## Run {tag}: {cell(report.name)}", ""]
        for found in metric_tables(report.metrics):
            parts += section(found, "###")
    return "\n".join(parts).rstrip() + "\n"
