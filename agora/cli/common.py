"""What the commands share: option types, flags with fixed choices, the console, and the backends a command opens.

Nothing heavy is imported here: a command imports its machinery inside its function, when it runs.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal, NamedTuple, Optional, TypeVar, get_args

import typer

from agora.errors import ConfigError

if TYPE_CHECKING:
    from rich.console import Console

    from agora.backends import Backend
    from agora.personas import Persona as PersonaModel

T = TypeVar("T")
S = TypeVar("S", str, list[str], None)


class Choice(NamedTuple):
    """The parser of a flag with fixed choices: a value outside them is a one-line ``ConfigError`` naming the flag.

    Pair it with a ``Literal`` annotation of the same values, which types the value and shows the choices in the help.
    (A named tuple rather than a frozen dataclass: a dataclass costs milliseconds to create at every start.)
    """

    flag: str
    choices: tuple[str, ...]

    @classmethod
    def of(cls, flag: str, literal: object) -> Choice:
        """The choices of the ``Literal`` type ``literal``, for ``flag``."""
        return cls(flag, tuple(str(value) for value in get_args(literal)))

    def __call__(self, value: str) -> str:
        if value not in self.choices:
            *rest, last = self.choices
            expected = f"{', '.join(rest)} or {last}" if rest else last
            raise ConfigError(f"{self.flag}: expected {expected}, got {value!r}")
        return value


@functools.lru_cache(maxsize=1)
def console() -> Console:
    """The console every command prints to (created on first use: rich's console is not needed to start)."""
    from rich.console import Console

    return Console(soft_wrap=True)


def check_model(param: typer.CallbackParam, spec: S) -> S:
    """The callback of a model spec flag (repeatable or not): an empty spec is a one-line ``ConfigError`` naming the
    flag."""
    for one in spec if isinstance(spec, list) else [spec]:
        if one is not None and not one.strip():
            raise ConfigError(f"{param.opts[0]}: empty model spec")
    return spec


def check_setting(param: typer.CallbackParam, value: float) -> float:
    """The callback of a flag that sets the ``Settings`` field of its parameter's name (``max_tokens``): a value out
    of the field's bounds is a one-line ``ConfigError`` naming the flag."""
    from agora.types import setting_problem

    problem = setting_problem(str(param.name), value)
    if problem:
        raise ConfigError(f"{param.opts[0]}: {problem}")
    return value


def check_out(path: Path | None, kind: Literal["file", "directory"]) -> None:
    """Raise a one-line ``ConfigError`` naming ``--out`` unless a ``kind`` can be written at ``path`` (if given)."""
    from agora.config_file import check_writable

    try:
        if path is not None:
            check_writable(path, kind)
    except ConfigError as exc:
        raise ConfigError(f"--out: {exc}") from None


# Options of the one-shot protocols (judge, debate, consult, jury, probe).
Model = Annotated[
    str,
    typer.Option("--model", callback=check_model, help="Model spec for every role, e.g. local, openai:gpt-4o-mini."),
]
Question = Annotated[str, typer.Option("--question", help="The question.")]
Answers = Annotated[list[str], typer.Option("--answer", help="A candidate answer; give two or more.")]
BaseUrl = Annotated[Optional[str], typer.Option("--base-url", help="Base URL of an OpenAI-compatible server.")]  # noqa: UP045
Seed = Annotated[Optional[int], typer.Option("--seed", help="Sampling seed (and the consultant's side).")]  # noqa: UP045
Timeout = Annotated[float, typer.Option("--timeout", callback=check_setting, help="Seconds per model call.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]
RoleModel = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option(callback=check_model, help="Model spec for this role (default: --model)."),
]
Persona = Annotated[Optional[str], typer.Option(help="Persona name or YAML file.")]  # noqa: UP045
Evidence = Annotated[
    Optional[Path],  # noqa: UP045
    typer.Option("--evidence", help="A text file the debaters/consultant read and the judge does not."),
]
Rounds = Annotated[int, typer.Option("--rounds", min=1, help="Rounds of argument.")]


def check_at_least(least: int) -> Callable[[typer.CallbackParam, int | None], int | None]:
    """The callback of a whole-number flag: a value below ``least`` is a one-line ``ConfigError`` naming the flag."""

    def check(param: typer.CallbackParam, value: int | None) -> int | None:
        if value is not None and value < least:
            raise ConfigError(f"{param.opts[0]}: must be at least {least}, got {value}")
        return value

    return check


def check_text(param: typer.CallbackParam, value: str | None) -> str | None:
    """The callback of a text flag: a blank value is a one-line ``ConfigError`` naming the flag (never ignored)."""
    if value is not None and not value.strip():
        raise ConfigError(f"{param.opts[0]}: the text is empty")
    return value


# Judging methods (``agora judge``, and every juror of ``agora jury``); see ``agora.methods``.
Scale = Annotated[
    Optional[int],  # noqa: UP045
    typer.Option("--scale", callback=check_at_least(2), help="Score each answer 1..N on its own; the best wins."),
]
RubricFile = Annotated[
    Optional[Path],  # noqa: UP045
    typer.Option("--rubric", help="A YAML rubric (criteria: name, description, weight); scores per criterion."),
]
Checklist = Annotated[
    bool, typer.Option("--checklist", help="Grade each answer on yes/no questions written once for the question.")
]
NoReasoning = Annotated[
    bool,
    typer.Option(
        "--no-reasoning", help="Name the letter at once, with no reasoning (direct judging; pair with --logprobs)."
    ),
]
Logprobs = Annotated[
    bool,
    typer.Option(
        "--logprobs", help="Read the model's probability of the chosen letter, where the backend gives token logprobs."
    ),
]
Reference = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option(
        "--reference", callback=check_text, help="A reference answer the judge compares with (never a candidate)."
    ),
]
Samples = Annotated[
    int,
    typer.Option("--samples", callback=check_at_least(1), help="K samples, each its own seed; the majority wins."),
]
Swap = Annotated[
    bool,
    typer.Option(
        "--swap",
        help="Judge both answer orders: probabilities averaged where given, else an inconsistent pair is undecided.",
    ),
]
Open = Annotated[bool, typer.Option("--open", help="The arguing agent first chooses the answer it defends.")]


def check_answers(answers: list[str]) -> None:
    """``--answer`` was given at least twice."""
    if len(answers) < 2:
        raise ConfigError("--answer: give at least two answers")


def persona_option(name: str | None) -> PersonaModel | None:
    """The persona a ``--persona`` option names (a bundled name or a YAML file), if any."""
    from agora.personas import load_persona

    return load_persona(name) if name else None


def each_valid(paths: Iterable[Path], load: Callable[[Path], T]) -> Iterator[tuple[Path, T | None]]:
    """``(path, load(path))`` for each file; an invalid one is reported on one line and comes as ``(path, None)``."""
    import sys

    for path in paths:
        try:
            yield path, load(path)
        except ConfigError as exc:
            print(f"agora: error: {exc}", file=sys.stderr)
            yield path, None


def read_evidence(path: Path | None) -> str | None:
    """The text of the ``--evidence`` file (UTF-8), if any."""
    from agora.config_file import decoded

    if path is None:
        return None
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"--evidence: {path}: {exc.strerror}") from None
    try:
        return decoded(path, raw)
    except ConfigError as exc:
        raise ConfigError(f"--evidence: {exc}") from None


# Options of the commands that run scenarios and read runs.
ExecutorName = Literal["local", "ray"]
Executor = Annotated[
    ExecutorName,
    typer.Option("--executor", parser=Choice.of("--executor", ExecutorName), help="local, or ray for a Ray cluster."),
]
RunDir = Annotated[Path, typer.Argument(help="A run directory (finished, interrupted or still running).")]
FormatName = Literal["md", "html"]
Format = Annotated[
    FormatName,
    typer.Option(
        "--format",
        parser=Choice.of("--format", FormatName),
        help="md (Markdown) or html (one self-contained page).",
    ),
]
OutFile = Annotated[
    Optional[Path],  # noqa: UP045
    typer.Option("--out", help="Write the report to FILE (default: print it)."),
]
Threshold = Annotated[
    Optional[float],  # noqa: UP045
    typer.Option("--threshold", help="Stated confidence (0-100) for coverage (default: the jury's min_confidence)."),
]
BootstrapSeed = Annotated[int, typer.Option("--seed", help="Seed of the bootstrap intervals.")]


class Backends(AsyncExitStack):
    """The backends one command opens: each model spec resolved once, every backend closed when the command ends.

    An ``AsyncExitStack``: leaving ``async with Backends(...)`` closes each backend entered, also on error.
    """

    def __init__(self, base_url: str | None = None) -> None:
        super().__init__()
        self.base_url = base_url
        self._opened: dict[str, Backend] = {}

    async def get(self, spec: str) -> Backend:
        """The backend for ``spec``, built on first use (a bad spec is a ``ConfigError``) and entered into the stack."""
        if spec not in self._opened:
            from agora.backends import resolve_model

            built = resolve_model(spec, base_url=self.base_url) if self.base_url else resolve_model(spec)
            self._opened[spec] = await self.enter_async_context(built)
        return self._opened[spec]


def with_backends(base_url: str | None, work: Callable[[Backends], Awaitable[T]]) -> T:
    """Run ``work`` to completion in a new event loop, with the backends it opens closed when it ends."""
    import asyncio

    async def go() -> T:
        async with Backends(base_url) as backends:
            return await work(backends)

    return asyncio.run(go())
