"""Declarative graphs: ``graph validate`` checks graph files, ``graph draw`` prints one as Mermaid."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from agora.cli.common import console, each_valid

app = typer.Typer(help="Declarative graphs: validate and draw graphs/*.yaml.", no_args_is_help=True)


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
