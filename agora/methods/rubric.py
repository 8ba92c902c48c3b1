"""Rubrics: each answer is scored on every criterion of a YAML rubric, on its own; the weighted mean of its
criterion scores is its score, and the best score wins.

A rubric file::

    name: instruction-following
    description: What makes a response to an instruction good.
    criteria:
      - name: adherence
        description: Does the response do exactly what the instruction asks?
        weight: 2
      - name: accuracy
        description: Is what it says correct?
"""

from __future__ import annotations

from collections.abc import Mapping
from math import fsum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field, create_model, field_validator

from agora.config_file import Spec, read_mapping, validate
from agora.methods.scale import SCALE_PROMPT, check_points, score_each, scored

if TYPE_CHECKING:
    from agora.methods.form import Reader
    from agora.state import View
    from agora.types import Settings, Verdict

RUBRIC_TARGET = "on each criterion listed below, one score per criterion"


class Criterion(Spec):
    """One criterion of a rubric: its name (a key of the judge's reply), what it asks, and its weight."""

    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]*$", max_length=64)
    description: str = Field(min_length=1)
    weight: float = Field(default=1.0, ge=0)

    @field_validator("name")
    @classmethod
    def _not_reasoning(cls, name: str) -> str:
        if name == "reasoning":
            raise ValueError("'reasoning' is the judge's reasoning field; name the criterion otherwise")
        return name


class Rubric(Spec):
    """The criteria an answer is scored on (at least one, names unique, weights adding up to more than 0)."""

    name: str | None = None
    description: str | None = None
    criteria: list[Criterion] = Field(min_length=1)

    @field_validator("criteria")
    @classmethod
    def _usable(cls, criteria: list[Criterion]) -> list[Criterion]:
        names = [c.name for c in criteria]
        twice = next((n for n in names if names.count(n) > 1), None)
        if twice is not None:
            raise ValueError(f"names must be unique, {twice!r} is used twice")
        if fsum(c.weight for c in criteria) <= 0:
            raise ValueError("the weights add up to 0: give at least one criterion a positive weight")
        return criteria

    def weighted(self, scores: Mapping[str, float]) -> float:
        """The weighted mean of one answer's criterion ``scores`` (weights normalised)."""
        total = fsum(c.weight for c in self.criteria)
        return round(fsum(c.weight * scores[c.name] for c in self.criteria) / total, 9)


def load_rubric(path: Path | str) -> Rubric:
    """The rubric in the YAML file at ``path``.

    Raises:
        ConfigError: the file is missing or not YAML, or a field is wrong (no criteria, a negative weight ...);
            one line naming the file and the field: ``rubrics/x.yaml: criteria.1.weight: ...``.
    """
    return validate(Rubric, read_mapping(path, "rubric"), path)


def rubric_schema(rubric: Rubric, points: int) -> type[BaseModel]:
    """The schema of one answer's scores on ``rubric``: reasoning first, then an integer 1..``points`` per criterion,
    in the rubric's order (keyed by the criterion names)."""
    fields: dict[str, Any] = {
        "reasoning": (str, Field(min_length=1, description="step-by-step reasoning, written first, concise"))
    }
    for i, c in enumerate(rubric.criteria):
        fields[f"criterion_{i}"] = (int, Field(ge=1, le=points, alias=c.name, description=c.description))
    return create_model("RubricScores", **fields)


class RubricForm:
    """A rubric: each answer is scored 1..``points`` on every criterion, on its own (one call per answer, which sees
    no other). An answer's score is the weighted mean of its criterion scores; the choice, a tie and the confidence
    (the score margin) are as for ``Scale``. The verdict records every criterion's scores.

    Raises:
        ConfigError: ``points`` below 2.
    """

    name = "rubric"

    def __init__(self, rubric: Rubric, points: int = 5) -> None:
        self.rubric = rubric
        self.points = check_points(points)
        self.schema = rubric_schema(rubric, self.points)
        listed = "\n".join(f"- {c.name}: {c.description}" for c in rubric.criteria)
        about = f"{rubric.description}\n\n" if rubric.description else ""
        head = SCALE_PROMPT.format(
            points=self.points, target=RUBRIC_TARGET, give="an integer score for each criterion under its name"
        )
        self.instructions = f"{head}\n\n{about}Criteria:\n{listed}"

    async def read(self, judge: Reader, seen: View, settings: Settings) -> Verdict:
        results = await score_each(judge, seen, settings, self.schema, self.instructions)
        names = [c.name for c in self.rubric.criteria]
        rows = [r.value.model_dump(by_alias=True) for r in results]
        scores = [self.rubric.weighted(row) for row in rows]
        notes = [
            f"{score:g} of {self.points}; " + ", ".join(f"{name} {row[name]}" for name in names)
            for score, row in zip(scores, rows, strict=True)
        ]
        criteria = {name: [float(row[name]) for row in rows] for name in names}
        return scored(judge, results, scores, self.points, notes, criteria=criteria)
