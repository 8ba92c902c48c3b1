"""The ``agora`` command line. Errors print one line, ``agora: error: ...``; exit 2 for bad input, 1 for a
failed execution; ``--debug`` adds the traceback.

One module per command group (``oneshot``, ``tune``, ``runs``, ``reports``, ``graph``, ``catalog``), the options
they share in ``common``. Starting needs typer alone: each command imports its machinery (LangGraph, SDKs, SciPy)
when it runs.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

# typer >= 0.26 vendors click; the error it raises after printing the help for a bare ``agora`` lives there.
from typer._click.exceptions import NoArgsIsHelpError
from typer.exceptions import TyperException

from agora.cli import catalog, graph, oneshot, reports, runs, tune
from agora.errors import AgoraError
from agora.redaction import redact

app = typer.Typer(
    name="agora",
    help="Multi-agent debate and jury orchestration for scalable oversight.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _global(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and debug logs.")] = False,
    log_level: Annotated[str, typer.Option("--log-level", help="debug, info, warning or error.")] = "error",
    log_json: Annotated[bool, typer.Option("--log-json", help="Log events as JSON lines on stderr.")] = False,
) -> None:
    from agora import log

    log.configure("debug" if debug else log_level, json=log_json)


for _command in (
    catalog.models,
    oneshot.judge,
    oneshot.debate,
    oneshot.consult,
    oneshot.jury,
    oneshot.probe,
    tune.tune,
    catalog.personas,
    runs.run,
    runs.resume,
    runs.scenarios,
    reports.report,
    reports.compare,
):
    app.command()(_command)
app.add_typer(graph.app, name="graph")
del _command


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``agora`` console script."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        code = app(args=args, prog_name="agora", standalone_mode=False)
    except NoArgsIsHelpError:  # typer has printed the help already
        sys.exit(0)
    except TyperException as exc:  # the parser's usage errors: bad input
        _fail(exc.format_message() if hasattr(exc, "format_message") else str(exc), 2, debug)
    except AgoraError as exc:
        _fail(f"{type(exc).__name__}: {exc}", exc.exit_code, debug)
    except KeyboardInterrupt:
        _fail("interrupted", 130, debug)
    sys.exit(code if isinstance(code, int) else 0)


def _fail(message: str, code: int, debug: bool) -> None:
    if debug:
        import traceback

        print(redact(traceback.format_exc()), file=sys.stderr)
    print(f"agora: error: {redact(' '.join(message.split()))}", file=sys.stderr)
    sys.exit(code)


__all__ = ["app", "main"]
