"""Reports of a run, rebuilt at any time from its run store alone (no model calls), partial runs included:

    report = read_run(Path("runs/covid-debate-…"))
    print(run_markdown(report))                       # the tables a researcher pastes
    Path("report.html").write_text(run_html(report))  # one self-contained page: plots, tables, every item

``agora compare`` sets two runs side by side (:func:`compare_markdown`, :func:`compare_html`) with the paired
difference of each protocol and judge on the items both runs have.
"""

from __future__ import annotations

from agora.reports.run import CompareRow, RunReport, compare_rows, read_run

__all__ = [
    "CompareRow",
    "RunReport",
    "compare_html",
    "compare_markdown",
    "compare_rows",
    "read_run",
    "run_html",
    "run_markdown",
]


def run_markdown(report: RunReport) -> str:
    """The Markdown report of one run."""
    from agora.reports.markdown import render

    return render(report)


def run_html(report: RunReport) -> str:
    """The self-contained HTML report of one run."""
    from agora.reports.html import render

    return render(report)


def compare_markdown(a: RunReport, b: RunReport, *, seed: int = 0) -> str:
    """Two runs side by side in Markdown (``seed``: of the paired bootstraps)."""
    from agora.reports.markdown import render_compare

    return render_compare(a, b, compare_rows(a, b, seed=seed))


def compare_html(a: RunReport, b: RunReport, *, seed: int = 0) -> str:
    """Two runs side by side in one self-contained HTML page (``seed``: of the paired bootstraps)."""
    from agora.reports.html import render_compare

    return render_compare(a, b, compare_rows(a, b, seed=seed))
