"""Scenario runs: ``run`` a scenario into a run directory, ``resume`` an interrupted one, list ``scenarios``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from agora.cli.common import Executor, console, each_valid

if TYPE_CHECKING:
    from agora.runner.run import Run


def run(
    scenario: Annotated[Path, typer.Argument(help="A scenario YAML file.")],
    model: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--model", help="Model spec for every role, overriding the scenario's models."),
    ] = None,
    limit: Annotated[Optional[int], typer.Option("--limit", min=0, help="Run the first N items only.")] = None,  # noqa: UP045
    concurrency: Annotated[
        Optional[int], typer.Option("--concurrency", min=1, help="Tasks in flight at once.")  # noqa: UP045
    ] = None,
    out_dir: Annotated[
        Optional[Path], typer.Option("--out", help="Run directory (default: runs/NAME-TIMESTAMP).")  # noqa: UP045
    ] = None,
    executor: Executor = "local",
    ray_address: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--ray-address", help="Address of an existing Ray cluster (default: start a local one)."),
    ] = None,
    seed: Annotated[Optional[int], typer.Option("--seed", help="Replaces the scenario's seed.")] = None,  # noqa: UP045
) -> int:
    """Run a scenario into a run directory; exit 1 when some tasks failed."""
    from agora.runner.run import Options, Run
    from agora.scenarios import load_scenario

    study = load_scenario(scenario)
    options = Options(model, limit, seed, concurrency, executor, ray_address)
    return _execute(Run.create(study, options, out_dir, scenario))


def resume(
    run_dir: Annotated[Path, typer.Argument(help="The run directory of an interrupted or crashed run.")],
    retry_errors: Annotated[bool, typer.Option("--retry-errors", help="Run failed tasks again too.")] = False,
) -> int:
    """Finish a run: only the tasks without a record, each exactly once."""
    from agora.runner.run import Run

    the_run = Run.open(run_dir)
    if retry_errors:
        console().print(f"{the_run.store.drop_errors()} failed tasks to run again")
    return _execute(the_run)


def scenarios(
    files: Annotated[
        Optional[list[Path]],  # noqa: UP045
        typer.Argument(help="Scenario files to validate (default: the bundled scenarios/*.yaml)."),
    ] = None,
) -> int:
    """List and validate scenarios; exit 2 when one is invalid."""
    from rich.table import Table

    from agora.paths import SCENARIOS_DIR
    from agora.scenarios import load_scenario

    paths = files or sorted(SCENARIOS_DIR.glob("*.yaml"))
    table = Table("scenario", "protocols", "judges", "data", "status")
    bad = 0
    for path, found in each_valid(paths, load_scenario):
        if found is None:
            bad += 1
            table.add_row(path.stem, "", "", "", "[red]invalid[/red]")
            continue
        protocols = ", ".join(p.name for p in found.protocols)
        judges = ", ".join(j.name or j.persona or "judge" for j in found.judges)
        data = ", ".join(d.loader for d in found.data)
        table.add_row(found.name, protocols, judges, data, "[green]ok[/green]")
    console().print(table)
    return 2 if bad else 0


def _execute(the_run: Run) -> int:
    """Run under a progress bar, print the results; on Ctrl-C, say how to resume."""
    import time

    from agora.runner.progress import execute, report_end

    out = console()
    start = time.perf_counter()
    out.print(f"run directory: {the_run.directory}")
    try:
        tally = execute(the_run, out)
    except KeyboardInterrupt:
        out.print(f"interrupted; finish it with: agora resume {the_run.directory}")
        the_run.close()
        return 130
    report_end(the_run, tally, out, time.perf_counter() - start)
    the_run.close()
    return 1 if tally.errors else 0
