"""The shape of the package: no import cycles, counting imports under ``TYPE_CHECKING`` and inside functions."""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

PACKAGE = Path(__file__).resolve().parent.parent / "agora"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, here: str, modules: set[str]) -> set[str]:
    """Every agora module that ``path`` (the module ``here``) imports, wherever the import statement is
    (``from a import b``: ``a.b`` when that is a module, else ``a``)."""
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            submodules = {f"{base}.{alias.name}" for alias in node.names} & modules
            found.update(submodules)
            if len(submodules) < len(node.names):
                found.add(base)
    return {name for name in found if name in modules and name != here}


def packages_run(importer: str, target: str) -> list[str]:
    """The packages whose ``__init__`` importing ``target`` runs, besides the root one and the importer's own."""
    parts = target.split(".")
    outer = [".".join(parts[:i]) for i in range(2, len(parts))]
    return [p for p in outer if not (importer == p or importer.startswith(p + "."))]


def import_graph() -> nx.DiGraph:
    paths = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(p) for p in paths}
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for path in paths:
        here = module_name(path)
        for target in imports(path, here, modules):
            graph.add_edges_from((here, t) for t in [target, *packages_run(here, target)] if t in modules)
    return graph


def test_the_walker_sees_every_kind_of_import(tmp_path: Path) -> None:
    modules = {"agora", "agora.a", "agora.b", "agora.c", "agora.d", "agora.sub", "agora.sub.e"}
    source = tmp_path / "x.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "import agora.a\n"
        "if TYPE_CHECKING:\n    from agora.b import Thing\n"
        "def f():\n    from agora import c\n    import os\n"
        "class K:\n    def g(self):\n        from agora.sub import e, helper\n"
    )
    assert imports(source, "agora.x", modules | {"agora.x"}) == {
        "agora.a",
        "agora.b",
        "agora.c",
        "agora.sub",
        "agora.sub.e",
    }


def test_importing_a_submodule_runs_its_packages() -> None:
    assert packages_run("agora.aggregation.checks", "agora.protocols.nodes") == ["agora.protocols"]
    assert packages_run("agora.protocols.debate", "agora.protocols.nodes") == []


def test_agora_has_no_import_cycle() -> None:
    graph = import_graph()
    assert graph.number_of_edges() > 100  # the walk found the package's imports
    cycles = sorted(sorted(c) for c in nx.simple_cycles(graph))
    assert cycles == [], "import cycles: " + "; ".join(" -> ".join(c) for c in cycles[:10])
