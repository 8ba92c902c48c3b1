"""The ``agora`` command line. Errors print one line, ``agora: error: ...``; exit 2 for bad input, 1 for a
failed execution; ``--debug`` adds the traceback.
"""

from __future__ import annotations

import asyncio
import json
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from rich.console import Console
from rich.table import Table
from typer.exceptions import TyperException

from agora import log
from agora.errors import AgoraError, ConfigError
from agora.redaction import redact

if TYPE_CHECKING:
    from agora.agents.judge import Judge
    from agora.backends import Backend
    from agora.personas import Persona as PersonaModel
    from agora.types import Settings, Verdict

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


Model = Annotated[str, typer.Option("--model", help="Model spec for every role, e.g. local, openai:gpt-4o-mini.")]
Question = Annotated[str, typer.Option("--question", help="The question.")]
Answers = Annotated[list[str], typer.Option("--answer", help="A candidate answer; give two or more.")]
BaseUrl = Annotated[Optional[str], typer.Option("--base-url", help="Base URL of an OpenAI-compatible server.")]  # noqa: UP045
Seed = Annotated[Optional[int], typer.Option("--seed", help="Sampling seed (and the consultant's side).")]  # noqa: UP045
Timeout = Annotated[float, typer.Option("--timeout", help="Seconds per model call.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]
RoleModel = Annotated[Optional[str], typer.Option(help="Model spec for this role (default: --model).")]  # noqa: UP045
Persona = Annotated[Optional[str], typer.Option(help="Persona name or YAML file.")]  # noqa: UP045
Evidence = Annotated[
    Optional[Path],  # noqa: UP045
    typer.Option("--evidence", help="A text file the debaters/consultant read and the judge does not."),
]
Rounds = Annotated[int, typer.Option("--rounds", min=1, help="Rounds of argument.")]
Open = Annotated[bool, typer.Option("--open", help="The arguing agent first chooses the answer it defends.")]


@app.command()
def judge(
    question: Question,
    answer: Answers,
    model: Model = "local",
    persona: Persona = None,
    base_url: BaseUrl = None,
    temperature: Annotated[float, typer.Option("--temperature")] = 0.0,
    max_tokens: Annotated[int, typer.Option("--max-tokens")] = 512,
    seed: Seed = None,
    timeout: Timeout = 300.0,
    as_json: AsJson = False,
) -> None:
    """One judge picks between two or more answers."""
    from agora.agents.judge import Judge
    from agora.types import Settings

    _check_answers(answer)
    judge_as = _persona(persona)
    settings = Settings(temperature=temperature, max_tokens=max_tokens, seed=seed, timeout=timeout)
    the_judge = Judge(_backend(model, base_url), judge_as, settings=settings)
    state = _run(_direct(the_judge), {"question": question, "answers": answer})
    _print_result(state, as_json, transcript=False)


@app.command()
def debate(
    question: Question,
    answer: Answers,
    model: Model = "local",
    debater_model: RoleModel = None,
    judge_model: RoleModel = None,
    judge_persona: Persona = None,
    rounds: Rounds = 2,
    evidence: Evidence = None,
    open_: Open = False,
    simultaneous: Annotated[bool, typer.Option("--simultaneous", help="Debaters speak at once each round.")] = False,
    base_url: BaseUrl = None,
    seed: Seed = None,
    timeout: Timeout = 300.0,
    as_json: AsJson = False,
) -> None:
    """Debaters argue for the answers over rounds; a judge who never sees the evidence decides."""
    from agora.agents.debater import Debater
    from agora.protocols import debate as build
    from agora.transcript import label

    def graph(speaker: Backend, turn: Settings, the_judge: Judge) -> Any:
        debaters = [Debater(speaker, name=f"debater_{label(i).lower()}", settings=turn) for i in range(len(answer))]
        return build(debaters, the_judge, rounds=rounds, simultaneous=simultaneous, open=open_)

    _argue(
        graph,
        question,
        answer,
        evidence,
        debater_model or model,
        judge_model or model,
        judge_persona,
        base_url,
        seed,
        timeout,
        as_json,
    )


@app.command()
def consult(
    question: Question,
    answer: Answers,
    model: Model = "local",
    consultant_model: RoleModel = None,
    judge_model: RoleModel = None,
    judge_persona: Persona = None,
    rounds: Rounds = 2,
    evidence: Evidence = None,
    open_: Open = False,
    base_url: BaseUrl = None,
    seed: Seed = None,
    timeout: Timeout = 300.0,
    as_json: AsJson = False,
) -> None:
    """One consultant argues a side drawn at random (seeded); the judge questions it, then decides."""
    from agora.agents.consultant import Consultant
    from agora.protocols import consultancy

    def graph(speaker: Backend, turn: Settings, the_judge: Judge) -> Any:
        return consultancy(Consultant(speaker, settings=turn), the_judge, rounds=rounds, seed=seed or 0, open=open_)

    _argue(
        graph,
        question,
        answer,
        evidence,
        consultant_model or model,
        judge_model or model,
        judge_persona,
        base_url,
        seed,
        timeout,
        as_json,
    )


@app.command()
def personas() -> None:
    """List the personas found (bundled, ./personas and $AGORA_PERSONAS)."""
    from agora.personas import available_personas, load_persona

    table = Table("persona", "description", "file")
    for name, path in sorted(available_personas().items()):
        table.add_row(name, load_persona(name).description, str(path))
    out.print(table)


graph_app = typer.Typer(help="Declarative graphs: validate and draw graphs/*.yaml.", no_args_is_help=True)
app.add_typer(graph_app, name="graph")


@graph_app.command("validate")
def graph_validate(files: Annotated[list[Path], typer.Argument(help="Graph YAML files.")]) -> None:
    """Validate graph files; every file is checked, each error is one line naming the file and node."""
    from agora.graphs import load_graph

    failed = 0
    for path in files:
        try:
            spec = load_graph(path)
        except ConfigError as exc:
            failed += 1
            print(f"agora: error: {exc}", file=sys.stderr)
            continue
        out.print(f"ok {path}: {len(spec.nodes)} nodes, {len(spec.edges)} edges")
    if failed:
        raise typer.Exit(2)


@graph_app.command("draw")
def graph_draw(file: Annotated[Path, typer.Argument(help="A graph YAML file.")]) -> None:
    """Print the Mermaid drawing of a graph file (no model is called or loaded)."""
    from agora.graphs import load_graph, placeholder_backend

    graph = load_graph(file).compile(resolve=placeholder_backend)
    print(graph.get_graph(xray=True).draw_mermaid())


def _argue(
    graph: Callable[[Backend, Settings, Judge], Any],
    question: str,
    answers: list[str],
    evidence: Path | None,
    speaker_model: str,
    judge_model: str,
    judge_persona: str | None,
    base_url: str | None,
    seed: int | None,
    timeout: float,
    as_json: bool,
) -> None:
    """Run a protocol with arguing agents: inputs checked first, then models built, run, printed."""
    from agora.agents.judge import Judge
    from agora.types import Settings

    _check_answers(answers)
    judge_as = _persona(judge_persona)
    text = _read_evidence(evidence)
    speaker = _backend(speaker_model, base_url)
    the_judge = Judge(_backend(judge_model, base_url), judge_as, settings=Settings(seed=seed, timeout=timeout))
    built = graph(speaker, Settings(max_tokens=400, seed=seed, timeout=timeout), the_judge)
    state = _run(built, {"question": question, "answers": answers, "evidence": text})
    _print_result(state, as_json, transcript=True)


def _persona(name: str | None) -> PersonaModel | None:
    from agora.personas import load_persona

    return load_persona(name) if name else None


def _check_answers(answers: list[str]) -> None:
    if len(answers) < 2:
        raise ConfigError("--answer: give at least two answers")


_opened: list[Backend] = []


def _backend(spec: str, base_url: str | None) -> Backend:
    """The backend for ``spec``; one per spec, closed when the command ends."""
    from agora.backends import resolve_model

    for backend in _opened:
        if backend.spec == spec:
            return backend
    backend = resolve_model(spec, base_url=base_url) if base_url else resolve_model(spec)
    _opened.append(backend)
    return backend


def _read_evidence(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return path.read_text()
    except OSError as exc:
        raise ConfigError(f"--evidence: {path}: {exc.strerror}") from None


def _direct(the_judge: Judge) -> Any:
    from agora.protocols import direct_qa

    return direct_qa(the_judge)


def _run(graph: Any, state: dict[str, Any]) -> dict[str, Any]:
    async def go() -> dict[str, Any]:
        try:
            return dict(await graph.ainvoke(state))
        finally:
            for backend in _opened:
                await backend.aclose()

    return asyncio.run(go())


def _print_result(state: dict[str, Any], as_json: bool, *, transcript: bool) -> None:
    from agora.transcript import label, render_turn

    answers: list[str] = state["answers"]
    verdict: Verdict = state["verdicts"][-1]
    chosen = None if verdict.choice is None else answers[verdict.choice]
    if as_json:
        payload: dict[str, Any] = {**verdict.model_dump(mode="json"), "answer": chosen}
        if transcript:
            payload = {
                "question": state["question"],
                "answers": answers,
                "sides": state.get("sides", {}),
                "transcript": [t.model_dump(mode="json") for t in state.get("transcript", [])],
                "verdict": payload,
            }
        print(json.dumps(payload, indent=2))
        return
    for turn in state.get("transcript", []) if transcript else []:
        out.print(render_turn(turn), markup=False)
        out.print()
    shown = "abstained" if verdict.choice is None else f"{label(verdict.choice)}: {chosen}"
    out.print(f"[bold]choice[/bold]      {shown}")
    out.print(f"[bold]confidence[/bold]  {verdict.confidence:g}")
    out.print(f"[bold]reasoning[/bold]   {verdict.reasoning}", markup=False)
    out.print(
        f"[dim]{verdict.model} · {verdict.usage.prompt_tokens}+{verdict.usage.completion_tokens} tokens · "
        f"{verdict.attempts} attempt(s)[/dim]"
    )


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
