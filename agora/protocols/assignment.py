"""Who argues what in one task of a tournament: which debater model plays each speaking seat, and which answer it
argues.

A protocol with ``swap_sides: true`` runs every item under each of its assignments, so that every model argues the
right and the wrong answer equally often and a rating rates the model, not the side it was given:

- debate between models (two or more): every ordered choice of distinct models for the answers (both orders for two
  models; every ordered pair for more on two-answer items); seat ``i`` argues answer ``i``;
- debate with one model: every order of the answers over the seats (who argues what, and who speaks first);
- consultancy: every model arguing every answer, one task each.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import permutations

from agora.errors import ExecutionError
from agora.transcript import LABELS


@dataclass(frozen=True)
class Assignment:
    """Speaking seat ``i`` is played by debater model ``models[i]`` (an index into the scenario's debater models) and
    argues answer ``sides[i]``."""

    models: tuple[int, ...]
    sides: tuple[int, ...]

    @property
    def label(self) -> str:
        """``0A-1B``: model 0 argues answer A, then model 1 argues answer B (the task key's suffix)."""
        return "-".join(f"{m}{LABELS[s]}" for m, s in zip(self.models, self.sides, strict=True))


def debate_assignments(n_models: int, n_answers: int) -> list[Assignment]:
    """Every assignment of a debate with ``n_models`` debater models on an item with ``n_answers`` answers.

    Raises:
        ExecutionError: fewer models than answers (two or more models argue with distinct models).
    """
    seats = tuple(range(n_answers))
    if n_models == 1:
        return [Assignment((0,) * n_answers, order) for order in permutations(seats)]
    if n_models < n_answers:
        raise ExecutionError(
            f"a tournament of {n_models} debater models cannot argue {n_answers} answers with distinct models"
        )
    return [Assignment(chosen, seats) for chosen in permutations(range(n_models), n_answers)]


def consultancy_assignments(n_models: int, n_answers: int) -> list[Assignment]:
    """Every model arguing every answer, model by model."""
    return [Assignment((m,), (side,)) for m in range(n_models) for side in range(n_answers)]
