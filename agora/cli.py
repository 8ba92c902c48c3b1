"""The ``agora`` command line. Errors print one line, ``agora: error: ...``; exit 2 for bad input, 1 for a
failed execution; ``--debug`` adds the traceback.
"""

from __future__ import annotations

import asyncio
import json
import sys
import traceback
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table
from typer.exceptions import TyperException

from agora import log
from agora.errors import AgoraError, ConfigError
from agora.redaction import redact

if TYPE_CHECKING:
    from agora.agents.judge import Judge
    from agora.types import Verdict

app = typer.Typer(
    name="agora",
    help="Multi-agent debate and jury orchestration for scalable oversight.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console(soft_wrap=True)


@app.callback()
def _global(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and debug logs.")] = False,
    log_level: Annotated[str, typer.Option("--log-level", help="debug, info, warning or error.")] = "error",
    log_json: Annotated[bool, typer.Option("--log-json", help="Log events as JSON lines on stderr.")] = False,
) -> None:
    log.configure("debug" if debug else log_level, json=log_json)


@app.command()
def models() -> None:
    """List the backends, whether each is usable here, and why not."""
    from agora.backends import backend_class, backend_kinds
    from agora.weights import CATALOGUE, DEFAULT_MODEL

    table = Table("backend", "usable", "why", "example spec")
    examples = {
        "local": "local, local:smollm2-135m, local:/path/model.gguf",
        "openai": "openai:gpt-4o-mini, openai:qwen@http://127.0.0.1:8080/v1",
        "anthropic": "anthropic:claude-sonnet-4-5",
        "langchain": "langchain:my_pkg.models:chat",
        "scripted": "scripted:replies.json",
    }
    for kind in backend_kinds():
        status = backend_class(kind).availability()
        table.add_row(kind, "yes" if status.usable else "no", status.reason, examples.get(kind, ""))
    out.print(table)
    local = Table("local model", "installed", "size", "extra")
    for model in CATALOGUE.values():
        name = model.name + (" (default)" if model.name == DEFAULT_MODEL else "")
        local.add_row(name, "yes" if not model.missing_parts() else "no", f"{model.size / 1e6:.0f} MB", model.extra)
    out.print(local)


@app.command()
def judge(
    question: Annotated[str, typer.Option("--question", help="The question to judge.")],
    answer: Annotated[list[str], typer.Option("--answer", help="A candidate answer; give two or more.")],
    model: Annotated[str, typer.Option("--model", help="Model spec, e.g. local, openai:gpt-4o-mini.")] = "local",
    persona: Annotated[Optional[str], typer.Option("--persona", help="Persona name or YAML file.")] = None,  # noqa: UP045
    base_url: Annotated[str | None, typer.Option("--base-url", help="Base URL of an OpenAI-compatible server.")] = None,
    temperature: Annotated[float, typer.Option("--temperature")] = 0.0,
    max_tokens: Annotated[int, typer.Option("--max-tokens")] = 512,
    seed: Annotated[Optional[int], typer.Option("--seed")] = None,  # noqa: UP045
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds per model call.")] = 300.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """One judge picks between two or more answers."""
    from agora.agents.judge import LABELS, Judge
    from agora.backends import resolve_model
    from agora.types import Settings

    if len(answer) < 2:
        raise ConfigError("--answer: give at least two answers")
    backend = resolve_model(model, base_url=base_url) if base_url else resolve_model(model)
    settings = Settings(temperature=temperature, max_tokens=max_tokens, seed=seed, timeout=timeout)
    verdict = asyncio.run(_judge(Judge(backend, persona, settings=settings), question, answer))
    if as_json:
        payload = verdict.model_dump(mode="json")
        payload["answer"] = answer[verdict.choice] if verdict.choice is not None else None
        out.print_json(json.dumps(payload))
        return
    chosen = "abstained" if verdict.choice is None else f"{LABELS[verdict.choice]}: {answer[verdict.choice]}"
    out.print(f"[bold]choice[/bold]      {chosen}")
    out.print(f"[bold]confidence[/bold]  {verdict.confidence:g}")
    out.print(f"[bold]reasoning[/bold]   {verdict.reasoning}")
    out.print(
        f"[dim]{verdict.model} · {verdict.usage.prompt_tokens}+{verdict.usage.completion_tokens} tokens · "
        f"{verdict.attempts} attempt(s)[/dim]"
    )


async def _judge(judge_: Judge, question: str, answers: list[str]) -> Verdict:
    try:
        return await judge_.judge(question, answers)
    finally:
        await judge_.model.aclose()


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``agora`` console script."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        code = app(args=args, prog_name="agora", standalone_mode=False)
    except TyperException as exc:  # the parser's usage errors: bad input
        if type(exc).__name__ == "NoArgsIsHelpError":  # typer has printed the help already
            sys.exit(0)
        _fail(exc.format_message() if hasattr(exc, "format_message") else str(exc), 2, debug)
    except AgoraError as exc:
        _fail(f"{type(exc).__name__}: {exc}", exc.exit_code, debug)
    except KeyboardInterrupt:
        _fail("interrupted", 130, debug)
    sys.exit(code if isinstance(code, int) else 0)


def _fail(message: str, code: int, debug: bool) -> None:
    if debug:
        print(redact(traceback.format_exc()), file=sys.stderr)
    print(f"agora: error: {redact(' '.join(message.split()))}", file=sys.stderr)
    sys.exit(code)
