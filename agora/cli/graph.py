"""Declarative graphs: ``graph validate`` checks graph files, ``graph draw`` prints one as Mermaid, ``graph run``
runs one on a question."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from agora.cli.common import (
    Answers,
    AsJson,
    Backends,
    Evidence,
    Question,
    check_answers,
    check_model,
    console,
    each_valid,
    read_evidence,
    with_backends,
)
from agora.errors import ConfigError

if TYPE_CHECKING:
    from agora.graphs import GraphBody

app = typer.Typer(help="Declarative graphs: validate, draw and run graphs/*.yaml.", no_args_is_help=True)


@app.command("validate")
def validate(files: Annotated[list[Path], typer.Argument(help="Graph YAML files.")]) -> None:
    """Validate graph files; every file is checked, each error is one line naming the file and node."""
    from agora.graphs import load_graph

    failed = 0
    for path, spec in each_valid(files, load_graph):
        if spec is None:
            failed += 1
            continue
        console().print(f"ok {path}: {len(spec.nodes)} nodes, {len(spec.edges)} edges")
    if failed:
        raise typer.Exit(2)


@app.command("draw")
def draw(file: Annotated[Path, typer.Argument(help="A graph YAML file.")]) -> None:
    """Print the Mermaid drawing of a graph file (no model is called or loaded)."""
    from agora.graphs import load_graph, placeholder_backend

    graph = load_graph(file).compile(resolve=placeholder_backend)
    print(graph.get_graph(xray=True).draw_mermaid())


@app.command("run")
def run(
    file: Annotated[Path, typer.Argument(help="A graph YAML file.")],
    question: Question,
    answer: Answers,
    model: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--model", callback=check_model, help="Model spec replacing every model the file names."),
    ] = None,
    evidence: Evidence = None,
    as_json: AsJson = False,
) -> None:
    """Run a graph file on one question: print the transcript, then the jury's decision or the last verdict."""
    from agora.cli.oneshot import (
        case_json,
        decision_json,
        print_decision,
        print_transcript,
        print_verdict,
        verdict_json,
    )
    from agora.graphs import load_graph

    check_answers(answer)
    spec = load_graph(file)
    text = read_evidence(evidence)

    async def work(backends: Backends) -> dict[str, Any]:
        opened = {}  # each backend opened (a bad spec reported) before the graph compiles with a sync resolve
        for name in dict.fromkeys([model] if model else _models(spec)):
            try:
                opened[name] = await backends.get(name)
            except ConfigError as exc:
                raise ConfigError(f"{'--model' if model else file}: {exc}") from None
        graph = spec.compile(resolve=lambda name: opened[model or name])
        return dict(await graph.ainvoke({"question": question, "answers": answer, "evidence": text}))

    state = with_backends(None, work)
    verdicts = state.get("verdicts", [])  # none in a graph without a judge
    if as_json:
        payload = {"graph": spec.name, **case_json(state), "verdicts": [verdict_json(state, v) for v in verdicts]}
        if "decision" in state:
            payload["decision"] = decision_json(state)
        print(json.dumps(payload, indent=2))
        return
    print_transcript(state)
    if "decision" in state:
        print_decision(state)
    elif verdicts:
        print_verdict(state, verdicts[-1])


def _models(body: GraphBody) -> Iterator[str]:
    """The model spec of every node of ``body``, subgraphs included, in file order."""
    for node in body.nodes.values():
        if node.model is not None:
            yield node.model
        if node.graph is not None:
            yield from _models(node.graph)
