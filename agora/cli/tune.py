"""``agora tune``: design a judge persona from labelled items and write it with its measured accuracy (see
``agora.tuning``)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from agora.cli.common import Backends, BaseUrl, Model, Timeout, check_at_least, check_out, console, with_backends
from agora.errors import ConfigError

if TYPE_CHECKING:
    from agora.tuning import Plan, Split, Tuned


def tune(
    data: Annotated[Path, typer.Option("--data", help="Labelled items (each with a gold answer) to tune on.")],
    loader: Annotated[str, typer.Option("--loader", help="The data file's loader: llmbar, truthfulqa, jsonl, ...")],
    out: Annotated[Path, typer.Option("--out", help="The persona YAML file to write.")],
    model: Model = "local",
    limit: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option("--limit", callback=check_at_least(1), help="Use at most N items (train and test together)."),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Shuffles and splits the items, seeds the model.")] = 0,
    candidates: Annotated[
        int, typer.Option("--candidates", callback=check_at_least(1), help="Personas to propose.")
    ] = 4,
    concurrency: Annotated[
        int, typer.Option("--concurrency", callback=check_at_least(1), help="Model calls in flight at once.")
    ] = 8,
    base_url: BaseUrl = None,
    timeout: Timeout = 300.0,
) -> None:
    """Propose judge personas with a model, keep the best on a training split, write it with its accuracy on a
    held-back test split."""
    from agora.tuning import Plan, persona_name, tune, write

    check_out(out, "file")
    plan = Plan(data, loader, seed, limit, candidates, concurrency=concurrency, timeout=timeout)
    split = _split(plan)

    async def work(backends: Backends) -> tuple[str, Tuned]:
        backend = await backends.get(model)
        return backend.spec, await tune(backend, plan, persona_name(out), split)

    spec, tuned = with_backends(base_url, work)
    write(tuned, out, spec, plan)
    _report(tuned, out)


def _split(plan: Plan) -> Split:
    """The items of ``--data``, checked before any model is built: one line naming the flag or the file."""
    from agora.loaders import LOADERS
    from agora.tuning import split_items

    if not plan.data.is_file():
        raise ConfigError(f"--data: {plan.data}: {'not a file' if plan.data.exists() else 'no such file'}")
    try:
        LOADERS.get(plan.loader)
    except ConfigError as exc:
        raise ConfigError(f"--loader: {exc}") from None
    try:
        split = split_items(plan)
    except ConfigError as exc:
        raise ConfigError(f"--data: {exc}") from None
    if split.skipped:
        first = split.skipped[0]
        print(
            f"agora: warning: {plan.data}: {len(split.skipped)} malformed row(s) left out, the first at "
            f"{first.source}: {first.reason}",
            file=sys.stderr,
        )
    return split


def _report(tuned: Tuned, out: Path) -> None:
    """What was written and what it measured."""
    low, high = tuned.interval
    best, total = tuned.candidates[tuned.best], tuned.total
    shown = console()
    for candidate in tuned.candidates:
        name = "baseline (no persona)" if candidate.persona is None else candidate.persona.name
        mark = "  <- written" if candidate is best else ""
        shown.print(f"{name:24} train {candidate.train.right}/{candidate.train.n}{mark}", markup=False)
    shown.print(
        f"wrote {out}: train {best.train.accuracy:.3f}, test {tuned.test.accuracy:.3f} "
        f"({tuned.test.right}/{tuned.test.n}, Wilson 95% [{low:.3f}, {high:.3f}]); "
        f"{total.calls} calls, {total.prompt_tokens}+{total.completion_tokens} tokens",
        markup=False,
    )
    if best.train.right <= tuned.baseline.train.right:
        print(
            f"agora: warning: no proposed persona beat the no-persona judge on the training split "
            f"({best.train.right} vs {tuned.baseline.train.right} of {best.train.n}); {out} holds the best proposal",
            file=sys.stderr,
        )
