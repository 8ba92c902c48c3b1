"""Reading runs: ``report`` rebuilds one run's report from its store, ``compare`` sets two runs side by side."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from agora.cli.common import BootstrapSeed, Format, FormatName, OutFile, RunDir, Threshold, check_out
from agora.errors import ConfigError

if TYPE_CHECKING:
    from agora.reports import RunReport

Render = TypeVar("Render", bound=Callable[..., str])


def report(
    run_dir: RunDir,
    format_: Format = "md",
    out_file: OutFile = None,
    threshold: Threshold = None,
    seed: BootstrapSeed = 0,
) -> None:
    """Rebuild a run's report from its run store alone (no model calls); a partial run's is marked partial."""
    from agora.reports import read_run, run_html, run_markdown

    check_out(out_file, "file")
    render = _format(format_, run_markdown, run_html)
    found = read_run(run_dir, threshold=threshold, seed=seed)
    _partial_warning(found)
    _emit(render(found), out_file)


def compare(
    run_a: Annotated[Path, typer.Argument(help="Run directory A.")],
    run_b: Annotated[Path, typer.Argument(help="Run directory B.")],
    format_: Format = "md",
    out_file: OutFile = None,
    threshold: Threshold = None,
    seed: BootstrapSeed = 0,
) -> None:
    """Two runs' tables side by side, with the paired difference A - B on the items both have."""
    from agora.reports import compare_html, compare_markdown, read_run

    check_out(out_file, "file")
    render = _format(format_, compare_markdown, compare_html)
    a, b = (read_run(d, threshold=threshold, seed=seed) for d in (run_a, run_b))
    _partial_warning(a)
    _partial_warning(b)
    _emit(render(a, b, seed=seed), out_file)


def _format(name: FormatName, markdown: Render, html: Render) -> Render:
    """The renderer ``--format`` names (its parser has checked the name)."""
    return markdown if name == "md" else html


def _partial_warning(found: RunReport) -> None:
    if found.partial:
        print(f"agora: warning: {found.directory}: partial run (status {found.status})", file=sys.stderr)


def _emit(text: str, path: Path | None) -> None:
    """Print ``text``, or write it to ``path`` (making its directory) and say where."""
    if path is None:
        sys.stdout.write(text)
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"--out: {path}: {exc.strerror}") from None
    print(f"wrote {path}", file=sys.stderr)
