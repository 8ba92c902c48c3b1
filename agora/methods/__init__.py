"""Judging methods: how a judge turns a view into a verdict.

A judge has one *form* (``direct`` choice, pointwise ``scale`` scores, a weighted ``rubric``, a shared
``checklist``) and may repeat it: ``samples`` (self-consistency over K seeds) and ``swap`` (both answer orders).
A reference answer reaches every form through the view (``View.references``, the field a judge names). Cascades,
which escalate an item from one judging stage to the next, are in ``agora.protocols.cascade``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from agora.errors import ConfigError
from agora.methods.form import Direct, Form

if TYPE_CHECKING:
    from agora.methods.checklist import Checklists

__all__ = ["Direct", "Form", "form_of"]


def form_of(
    scale: int | None, rubric: Path | str | None, checklist: bool, book: Checklists | None, reasoning: bool = True
) -> Form:
    """The form that ``--scale N``, ``--rubric FILE``, ``--checklist`` and ``--no-reasoning`` ask for (``direct``
    when none does).

    A rubric is scored on ``scale`` points when both are given. Checklist judges given the same ``book`` share each
    item's checklist (a new book when None). ``reasoning`` off is direct judging with the letter first.

    Raises:
        ConfigError: a scale below 2, an unreadable rubric, a checklist with a scale or a rubric, or no reasoning
            with any of them; one line naming the flag or file.
    """
    if scale is not None and scale < 2:
        raise ConfigError(f"--scale: must be at least 2, got {scale}")
    if not reasoning and (scale is not None or rubric is not None or checklist):
        other = "--scale" if scale is not None else "--rubric" if rubric is not None else "--checklist"
        raise ConfigError(f"--no-reasoning is a form of direct judging: it does not go with {other}")
    if checklist and (scale is not None or rubric is not None):
        other = "--scale" if scale is not None else "--rubric"
        raise ConfigError(f"--checklist and {other} are different judging forms: choose one")
    if rubric is not None:
        from agora.methods.rubric import RubricForm, load_rubric

        return RubricForm(load_rubric(Path(rubric)), points=scale or 5)
    if scale is not None:
        from agora.methods.scale import Scale

        return Scale(scale)
    if checklist:
        from agora.methods.checklist import Checklist, Checklists

        return Checklist(book if book is not None else Checklists())
    return Direct(reasoning)
