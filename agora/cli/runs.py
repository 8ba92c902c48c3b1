"""Scenario runs: ``run`` a scenario into a run directory, ``resume`` an interrupted one, list ``scenarios``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from agora.cli.common import Executor, check_model, check_out, console, each_valid
from agora.errors import ConfigError

if TYPE_CHECKING:
    from agora.runner.run import Run
    from agora.scenarios import Scenario


def run(
    scenario: Annotated[
        Path, typer.Argument(help="A scenario YAML file, or a bundled scenario's name (covid-debate).")
    ],
    model: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--model", callback=check_model, help="Model spec for every role, overriding the scenario's models."
        ),
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
    allow_import: Annotated[
        bool, typer.Option("--allow-import", help="Let the scenario import Python objects (langchain: model specs).")
    ] = False,
    fresh: Annotated[
        bool,
        typer.Option("--fresh", help="Execute every task even when a finished identical run could be reused."),
    ] = False,
) -> int:
    """Run a scenario into a run directory; exit 1 when some tasks failed.

    When a finished identical run lies beside the new one (same scenario, data, options, versions and commit), its
    records are copied instead: no model call.
    """
    from agora.paths import scenario_path
    from agora.runner.run import Options, Run

    scenario = scenario_path(scenario)
    check_out(out_dir, "directory")
    study = _load(scenario)
    if study.imports() and not allow_import:
        raise ConfigError(
            f"{scenario}: models: the scenario imports Python code ({', '.join(study.imports())}); "
            "run it with --allow-import if you trust the file like code"
        )
    options = Options(model, limit, seed, concurrency, executor, ray_address)
    return _execute(Run.create(study, options, out_dir, scenario), reuse=not fresh)


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
    """List and validate scenarios, with the Python objects each imports; exit 2 when one is invalid."""
    from rich.table import Column, Table

    from agora.paths import SCENARIOS_DIR, scenario_path

    paths = [scenario_path(f) for f in files] if files else sorted(SCENARIOS_DIR.glob("*.yaml"))
    rows: list[tuple[str, ...]] = []
    for path, found in each_valid(paths, _load):
        if found is None:
            rows.append((path.stem, "", "", "", "", "[red]invalid[/red]"))
            continue
        protocols = ", ".join(p.name for p in found.protocols)
        judges = ", ".join(j.name or j.persona or "judge" for j in found.judges)
        data = ", ".join(d.loader for d in found.data)
        rows.append((found.name, protocols, judges, data, ", ".join(found.imports()), "[green]ok[/green]"))
    importing = any(row[4] for row in rows)
    imports = [Column("imports", overflow="fold")] if importing else []  # shown whole, however narrow the terminal
    # a name is what `agora run NAME` takes: shown whole, on one line
    name = Column("scenario", no_wrap=True, min_width=max((len(row[0]) for row in rows), default=8))
    table = Table(name, "protocols", "judges", "data", *imports, "status")
    for row in rows:
        table.add_row(*(row if importing else row[:4] + row[5:]))
    console().print(table)
    return 2 if any("invalid" in row[5] for row in rows) else 0


def _load(path: Path) -> Scenario:
    """The scenario at ``path``, its data read through: what ``run`` would refuse before its first call, refused."""
    from agora.scenarios import check_data, load_scenario

    study = load_scenario(path)
    check_data(study)
    return study


def _execute(the_run: Run, reuse: bool = False) -> int:
    """Run under a progress bar (or, with ``reuse``, copy the records of a finished identical run), print the results;
    on Ctrl-C (exit 130), SIGTERM (143) or a full disk, say how to resume."""
    import time

    from agora.runner.progress import Terminated, execute, report_end
    from agora.runner.store import NoSpace

    out = console()
    start = time.perf_counter()
    out.print(f"run directory: {the_run.directory}")
    try:
        tally = the_run.tally if reuse and _reused(the_run) else execute(the_run, out)
    except KeyboardInterrupt as stop:
        terminated = isinstance(stop, Terminated)
        out.print(f"{'terminated' if terminated else 'interrupted'}; finish it with: agora resume {the_run.directory}")
        the_run.close()
        return 143 if terminated else 130
    except NoSpace as exc:
        the_run.close()
        raise NoSpace(f"{exc}; the run stopped: free space, then: agora resume {the_run.directory}") from None
    report_end(the_run, tally, out, time.perf_counter() - start)
    the_run.close()
    return 1 if tally.errors else 0


def _reused(the_run: Run) -> bool:
    """Whether the records of a finished identical run were copied into ``the_run``, saying so."""
    from agora.runner.reuse import reuse

    source = reuse(the_run)
    if source is None:
        return False
    console().print(
        f"reused {the_run.tally.skipped:,} records of {source} (finished identical run): no model call", markup=False
    )
    return True
