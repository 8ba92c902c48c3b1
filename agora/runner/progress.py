"""What a run shows on the terminal: a live progress line while it runs, the results table when it ends."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from agora.runner.record import Record
from agora.runner.run import Run, Tally
from agora.runner.summary import summarize

MALFORMED_SHOWN = 10
T = TypeVar("T")


class Terminated(KeyboardInterrupt):
    """SIGTERM stopped the run, as Ctrl-C does."""


def execute(run: Run, console: Console) -> Tally:
    """Run ``run`` under a live progress bar: tasks done, calls, tokens, errors, retries, ETA.

    Raises:
        KeyboardInterrupt: Ctrl-C, or ``Terminated`` (SIGTERM), after the store was left consistent and the run
            marked interrupted; the caller prints how to resume.
    """
    return asyncio.run(terminable(_with_progress(run, console)))


async def _with_progress(run: Run, console: Console) -> Tally:
    total = run.total()
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[stats]}"),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        bar = progress.add_task(run.scenario.name, total=total, stats="")

        def advance(record: Record, tally: Tally) -> None:
            stats = (
                f"calls {tally.calls} · cached {tally.cached} · tokens {tally.tokens} · "
                f"errors {tally.errors} · retries {tally.retries}"
            )
            progress.update(bar, completed=tally.ok + tally.errors + tally.skipped, stats=stats)

        return await run.execute(advance)


async def terminable(work: Coroutine[Any, Any, T]) -> T:
    """Await ``work``; SIGTERM cancels it, as Ctrl-C does, and raises ``Terminated`` once it has unwound."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    signalled: list[bool] = []

    def stop() -> None:
        if not signalled:  # a second SIGTERM does not cut the clean-up short
            signalled.append(True)
            task.cancel()

    loop.add_signal_handler(signal.SIGTERM, stop)
    try:
        return await work
    except asyncio.CancelledError:
        if signalled:
            raise Terminated from None
        raise
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


def results_table(records: Any, title: str) -> list[Table]:
    """The accuracy table (protocol × judge) and, for probes, the rate table."""
    rows, probes = summarize(records)
    tables = []
    if rows:
        table = Table("protocol", "judge", "accuracy", "correct / decided", "undecided", "n", "errors", title=title)
        for r in rows:
            accuracy = "-" if r.accuracy is None else f"{r.accuracy:.1%}"
            table.add_row(
                r.protocol, r.judge, accuracy, f"{r.correct} / {r.n - r.abstained}", str(r.abstained), str(r.n),
                str(r.errors),
            )  # fmt: skip
        tables.append(table)
    if probes:
        table = Table("probe", "judge", "rate fooled", "fell / n", "skipped", title=f"{title}: probes")
        for p in probes:
            rate = "-" if p.rate is None else f"{p.rate:.2f}"
            table.add_row(p.check, p.judge, rate, f"{p.fell} / {p.n}", str(p.skipped))
        tables.append(table)
    return tables


def report_end(run: Run, tally: Tally, console: Console, seconds: float) -> None:
    """The results table and one line of totals."""
    for table in results_table(run.store.records(), run.scenario.name):
        console.print(table)
    console.print(
        f"{tally.ok + tally.errors} tasks run ({tally.errors} failed, {tally.skipped} already done, "
        f"{tally.malformed} malformed rows) · {tally.calls} model calls, {tally.cached} from cache, "
        f"{tally.retries} retries, {tally.tokens} tokens · {seconds:.1f} s"
    )
    malformed = run.store.malformed()
    for row in malformed[:MALFORMED_SHOWN]:
        console.print(f"malformed row {row.source}: {row.reason}", markup=False)
    if len(malformed) > MALFORMED_SHOWN:
        console.print(f"... and {len(malformed) - MALFORMED_SHOWN} more malformed rows (in {run.store.path})")
    console.print(f"results: {Path(run.directory) / 'results.jsonl'}")
