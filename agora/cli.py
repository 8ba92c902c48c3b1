"""The ``agora`` command line. Errors print one line, ``agora: error: ...``; exit 2 for bad input, 1 for a
failed execution; ``--debug`` adds the traceback.
"""

from __future__ import annotations

import asyncio
import json
import sys
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from typer.exceptions import TyperException

from agora import log
from agora.errors import AgoraError, ConfigError
from agora.redaction import redact

if TYPE_CHECKING:
    from agora.agents.judge import Judge
    from agora.backends import Backend
    from agora.personas import Persona as PersonaModel
    from agora.reports import RunReport
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
    from agora.protocols import direct_qa
    from agora.types import Settings

    _check_answers(answer)
    judge_as = _persona(persona)
    settings = Settings(temperature=temperature, max_tokens=max_tokens, seed=seed, timeout=timeout)
    the_judge = Judge(_backend(model, base_url), judge_as, settings=settings)
    state = _run(direct_qa(the_judge).ainvoke({"question": question, "answers": answer}))
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
def jury(
    question: Question,
    answer: Answers,
    model: Model = "local",
    juror_model: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option("--juror-model", help="A juror's model spec; repeat to mix models (cycled over the jurors)."),
    ] = None,
    jurors: Annotated[int, typer.Option("--jurors", min=1, help="How many jurors.")] = 3,
    rule: Annotated[str, typer.Option("--rule", help="Voting rule: majority, plurality, unanimity, ...")] = "majority",
    min_confidence: Annotated[
        float, typer.Option("--min-confidence", help="Jurors stating less confidence (0-100) abstain.")
    ] = 0.0,
    quorum: Annotated[int, typer.Option("--quorum", help="Non-abstaining jurors required.")] = 1,
    margin: Annotated[float, typer.Option("--margin", help="Lead the winner needs, as a share of votes.")] = 0.0,
    checks: Annotated[
        str, typer.Option("--checks", help="Live checks, comma-separated: position,master-keys,injection,...")
    ] = "",
    persona: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option("--persona", help="A juror persona; repeat to mix (cycled over the jurors)."),
    ] = None,
    base_url: BaseUrl = None,
    seed: Seed = None,
    timeout: Timeout = 300.0,
    as_json: AsJson = False,
) -> None:
    """A jury of K jurors decides between the answers under a voting rule, thresholds and live checks."""
    from agora.agents.juror import Juror
    from agora.aggregation.checks import live_check
    from agora.aggregation.thresholds import Thresholds
    from agora.protocols import Jury, direct_qa
    from agora.transcript import label
    from agora.types import Settings

    _check_answers(answer)
    policy = Thresholds(min_confidence=min_confidence, quorum=quorum, margin=margin)
    personas = [_persona(p) for p in persona or []]
    names = [c.strip() for c in checks.split(",") if c.strip()]
    vote = _rule(rule)
    for name in names:
        live_check(name)  # bad input is reported before any model is built
    specs = juror_model or [model]
    seats = [
        Juror(
            _backend(specs[i % len(specs)], base_url),
            personas[i % len(personas)] if personas else None,
            name=f"juror_{i + 1}",
            settings=Settings(seed=None if seed is None else seed + i, timeout=timeout),
        )
        for i in range(jurors)
    ]
    panel = Jury(seats, vote, policy=policy, checks=names)
    state = _run(direct_qa(panel).ainvoke({"question": question, "answers": answer}))
    decision = state["decision"]
    if as_json:
        payload = {
            **decision.model_dump(mode="json"),
            "answer": answer[decision.outcome] if isinstance(decision.outcome, int) else None,
            "verdicts": [v.model_dump(mode="json") for v in state["verdicts"]],
        }
        print(json.dumps(payload, indent=2))
        return
    table = Table("juror", "choice", "confidence", "reasoning")
    for v in state["verdicts"]:
        shown = "abstained" if v.choice is None else label(v.choice)
        table.add_row(v.judge, shown, f"{v.confidence:g}", v.error or v.reasoning)
    out.print(table)
    outcome = decision.outcome if decision.outcome == "inconclusive" else label(int(decision.outcome))
    out.print(f"[bold]decision[/bold]  {outcome}  votes {decision.votes}  rule {decision.rule}")
    if decision.abstained:
        out.print(f"[bold]abstained[/bold] {', '.join(decision.abstained)}")
    if decision.flags:
        out.print(f"[bold]flags[/bold]     {', '.join(decision.flags)}")


@app.command()
def probe(
    model: Model = "local",
    probes: Annotated[
        str, typer.Option("--probes", help="Comma-separated: master-keys,position,verbosity,bandwagon,authority,...")
    ] = "master-keys,position,verbosity,bandwagon,authority,critique",
    data: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--data", help="Pairs to probe with (LLMBar, EvalBiasBench or TruthfulQA shape)."),
    ] = None,
    limit: Annotated[Optional[int], typer.Option("--limit", min=1, help="Probe at most N items.")] = None,  # noqa: UP045
    persona: Persona = None,
    base_url: BaseUrl = None,
    seed: Seed = None,
    timeout: Timeout = 300.0,
    as_json: AsJson = False,
) -> None:
    """Per-probe rates for one judge: how often a manipulation flips or fools it, with the counts behind them."""
    from dataclasses import asdict

    from agora.agents.judge import Judge
    from agora.aggregation.checks import data_dir, probe_check
    from agora.probes import load_items, run_probes
    from agora.types import Settings

    names = [p.strip() for p in probes.split(",") if p.strip()]
    for name in names:
        probe_check(name)
    path = data or data_dir() / "llmbar_natural.json"
    loaded = load_items(path)
    for bad in loaded.malformed:
        print(f"agora: warning: {bad.source}: skipped: {bad.reason}", file=sys.stderr)
    judge_as = _persona(persona)
    the_judge = Judge(_backend(model, base_url), judge_as, settings=Settings(seed=seed, timeout=timeout))

    results = _run(run_probes(the_judge, names, loaded.items, limit))
    if as_json:
        payload = {"model": the_judge.model.spec, "data": str(path), "limit": limit}
        print(json.dumps({**payload, "probes": {name: asdict(r) for name, r in results.items()}}, indent=2))
        return
    table = Table("probe", "rate", "count / n", "parse errors", "skipped", "model calls")
    for name, r in results.items():
        rate = "-" if r.rate is None else f"{r.rate:.2f}"
        table.add_row(name, rate, f"{r.count} / {r.n}", str(r.errors), str(r.skipped), str(r.calls))
    out.print(f"{the_judge.model.spec} on {path}" + (f" (first {limit})" if limit else ""))
    out.print(table)


@app.command()
def personas() -> None:
    """List the personas found (bundled, ./personas and $AGORA_PERSONAS)."""
    from agora.personas import available_personas, load_persona

    table = Table("persona", "description", "file")
    for name, path in sorted(available_personas().items()):
        table.add_row(name, load_persona(name).description, str(path))
    out.print(table)


@app.command()
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
    executor: Annotated[str, typer.Option("--executor", help="local, or ray for a Ray cluster.")] = "local",
    ray_address: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--ray-address", help="Address of an existing Ray cluster (default: start a local one)."),
    ] = None,
    seed: Annotated[Optional[int], typer.Option("--seed", help="Replaces the scenario's seed.")] = None,  # noqa: UP045
) -> int:
    """Run a scenario into a run directory; exit 1 when some tasks failed."""
    from agora.runner.run import Options, Run
    from agora.scenarios import load_scenario

    if executor not in ("local", "ray"):
        raise ConfigError(f"--executor: expected local or ray, got {executor!r}")
    study = load_scenario(scenario)
    options = Options(model, limit, seed, concurrency, executor, ray_address)  # type: ignore[arg-type]
    return _execute(Run.create(study, options, out_dir, scenario))


@app.command()
def resume(
    run_dir: Annotated[Path, typer.Argument(help="The run directory of an interrupted or crashed run.")],
    retry_errors: Annotated[bool, typer.Option("--retry-errors", help="Run failed tasks again too.")] = False,
) -> int:
    """Finish a run: only the tasks without a record, each exactly once."""
    from agora.runner.run import Run

    the_run = Run.open(run_dir)
    if retry_errors:
        out.print(f"{the_run.store.drop_errors()} failed tasks to run again")
    return _execute(the_run)


@app.command()
def scenarios(
    files: Annotated[
        Optional[list[Path]],  # noqa: UP045
        typer.Argument(help="Scenario files to validate (default: the bundled scenarios/*.yaml)."),
    ] = None,
) -> int:
    """List and validate scenarios; exit 2 when one is invalid."""
    from agora.aggregation.checks import REPO_DIR
    from agora.scenarios import load_scenario

    paths = files or sorted((REPO_DIR / "scenarios").glob("*.yaml"))
    table = Table("scenario", "protocols", "judges", "data", "status")
    bad = 0
    for path in paths:
        try:
            found = load_scenario(path)
        except ConfigError as exc:
            bad += 1
            print(f"agora: error: {exc}", file=sys.stderr)
            table.add_row(path.stem, "", "", "", "[red]invalid[/red]")
            continue
        protocols = ", ".join(p.name for p in found.protocols)
        judges = ", ".join(j.name or j.persona or "judge" for j in found.judges)
        data = ", ".join(d.loader for d in found.data)
        table.add_row(found.name, protocols, judges, data, "[green]ok[/green]")
    out.print(table)
    return 2 if bad else 0


RunDir = Annotated[Path, typer.Argument(help="A run directory (finished, interrupted or still running).")]
Format = Annotated[str, typer.Option("--format", help="md (Markdown) or html (one self-contained page).")]
OutFile = Annotated[
    Optional[Path],  # noqa: UP045
    typer.Option("--out", help="Write the report to FILE (default: print it)."),
]
Threshold = Annotated[
    Optional[float],  # noqa: UP045
    typer.Option("--threshold", help="Stated confidence (0-100) for coverage (default: the jury's min_confidence)."),
]
BootstrapSeed = Annotated[int, typer.Option("--seed", help="Seed of the bootstrap intervals.")]
Render = TypeVar("Render", bound=Callable[..., str])


@app.command()
def report(
    run_dir: RunDir,
    format_: Format = "md",
    out_file: OutFile = None,
    threshold: Threshold = None,
    seed: BootstrapSeed = 0,
) -> None:
    """Rebuild a run's report from its run store alone (no model calls); a partial run's is marked partial."""
    from agora.reports import read_run, run_html, run_markdown

    render = _format(format_, run_markdown, run_html)
    found = read_run(run_dir, threshold=threshold, seed=seed)
    _partial_warning(found)
    _emit(render(found), out_file)


@app.command()
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

    render = _format(format_, compare_markdown, compare_html)
    a, b = (read_run(d, threshold=threshold, seed=seed) for d in (run_a, run_b))
    _partial_warning(a)
    _partial_warning(b)
    _emit(render(a, b, seed=seed), out_file)


def _format(name: str, markdown: Render, html: Render) -> Render:
    """The renderer ``--format`` names."""
    if name not in ("md", "html"):
        raise ConfigError(f"--format: expected md or html, got {name!r}")
    return markdown if name == "md" else html


def _partial_warning(found: RunReport) -> None:
    if found.partial:
        print(f"agora: warning: {found.directory}: partial run (status {found.status})", file=sys.stderr)


def _emit(text: str, path: Path | None) -> None:
    """Print ``text``, or write it to ``path`` and say where."""
    if path is None:
        sys.stdout.write(text)
        return
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"--out: {path}: {exc.strerror}") from None
    print(f"wrote {path}", file=sys.stderr)


def _execute(the_run: Any) -> int:
    """Run under a progress bar, print the results; on Ctrl-C, say how to resume."""
    import time

    from agora.runner.progress import execute, report_end

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
    state = _run(built.ainvoke({"question": question, "answers": answers, "evidence": text}))
    _print_result(state, as_json, transcript=True)


def _rule(name: str) -> Any:
    from agora.aggregation.voting import get_rule

    try:
        return get_rule(name)
    except ConfigError as exc:
        raise ConfigError(f"--rule: {exc}") from None


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


def _run(work: Awaitable[Any]) -> dict[str, Any]:
    """Run ``work`` (a graph invocation, a probe run) to completion, then close every backend opened."""

    async def go() -> dict[str, Any]:
        try:
            return dict(await work)
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
    out.print(f"[bold]reasoning[/bold]   {escape(verdict.reasoning)}")
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
