"""The command line's start and end: a light import, and the backends a command opens closed when it ends."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

import pytest

import agora.backends
from agora.backends import Backend
from agora.cli.common import Backends, with_backends
from agora.errors import ConfigError, ExecutionError
from agora.types import Completion, Message, OutputSchema, Settings

HEAVY = ("langgraph", "langchain_core", "openai", "anthropic", "llama_cpp", "scipy")
"""What the command line must not import to start or to show its help."""

# The top-level modules loaded after ``import agora.cli`` (then ``agora --help`` with the argument "help").
LOADED = """
import contextlib, io, json, sys
import agora.cli

out = io.StringIO()
if sys.argv[1:] == ["help"]:
    with contextlib.redirect_stdout(out):
        try:
            agora.cli.main(["--help"])
        except SystemExit:
            pass
print(json.dumps({"modules": sorted({m.partition(".")[0] for m in sys.modules}), "out": out.getvalue()}))
"""


def loaded(*args: str) -> tuple[set[str], str]:
    """The top-level modules loaded in a fresh interpreter by ``import agora.cli`` (and ``agora --help``), stdout."""
    result = subprocess.run(
        [sys.executable, "-c", LOADED, *args], capture_output=True, text=True, timeout=120, check=True
    )
    found = json.loads(result.stdout)
    return set(found["modules"]), found["out"]


def test_importing_the_cli_loads_no_heavy_dependency() -> None:
    modules, _ = loaded()
    assert {"typer", "agora"} <= modules  # the check itself works
    assert modules.isdisjoint(HEAVY), sorted(modules & set(HEAVY))


def test_top_level_help_lists_the_commands_and_loads_no_heavy_dependency() -> None:
    modules, out = loaded("help")
    for command in ("judge", "debate", "consult", "jury", "probe", "run", "resume", "report", "compare", "graph"):
        assert f" {command} " in out, out
    assert modules.isdisjoint(HEAVY), sorted(modules & set(HEAVY))


class Recorder(Backend):
    """A backend that only records that it was closed."""

    def __init__(self, spec: str, closed: list[str]) -> None:
        super().__init__(spec)
        self.closed = closed

    async def complete(
        self, messages: Sequence[Message], settings: Settings, schema: OutputSchema | None = None
    ) -> Completion:
        raise NotImplementedError

    async def aclose(self) -> None:
        self.closed.append(self.model)


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> tuple[list[tuple[str, dict[str, Any]]], list[str]]:
    """The specs resolved (with their options) and the backends closed, with ``resolve_model`` replaced."""
    resolved: list[tuple[str, dict[str, Any]]] = []
    closed: list[str] = []

    def resolve(spec: str, **options: Any) -> Backend:
        if spec == "bad":
            raise ConfigError("model spec 'bad': unknown backend 'bad'")
        resolved.append((spec, options))
        return Recorder(spec, closed)

    monkeypatch.setattr(agora.backends, "resolve_model", resolve)
    return resolved, closed


def test_one_backend_per_spec_all_closed_when_the_command_ends(built: tuple[list, list[str]]) -> None:
    resolved, closed = built

    async def work(backends: Backends) -> tuple[Backend, Backend, Backend]:
        return await backends.get("a"), await backends.get("b"), await backends.get("a")

    a, b, again = with_backends("http://127.0.0.1:9/v1", work)
    assert a is again and a is not b
    assert resolved == [("a", {"base_url": "http://127.0.0.1:9/v1"}), ("b", {"base_url": "http://127.0.0.1:9/v1"})]
    assert closed == ["b", "a"]  # the exit stack closes in reverse order


def test_backends_are_closed_when_the_command_fails(built: tuple[list, list[str]]) -> None:
    resolved, closed = built

    async def work(backends: Backends) -> None:
        await backends.get("a")
        await backends.get("b")
        raise ExecutionError("the model call failed")

    with pytest.raises(ExecutionError, match="the model call failed"):
        with_backends(None, work)
    assert [spec for spec, options in resolved if not options] == ["a", "b"]
    assert closed == ["b", "a"]


def test_a_bad_spec_is_a_config_error_and_closes_what_was_opened(built: tuple[list, list[str]]) -> None:
    _, closed = built

    async def work(backends: Backends) -> None:
        await backends.get("a")
        await backends.get("bad")
        raise AssertionError("no model call after a bad spec")

    with pytest.raises(ConfigError, match="unknown backend 'bad'"):
        with_backends(None, work)
    assert closed == ["a"]
