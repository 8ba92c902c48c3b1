"""The unit of a data set: one question with its candidate answers, the gold answer and perhaps evidence."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agora.state import View


class Item(BaseModel):
    """One question to put to a protocol.

    Attributes:
        id: unique within its data set (a loader derives it from the row when the row has none).
        question: what the judge is asked.
        answers: two or more candidates.
        gold: index of the correct answer, or ``None`` when there is no ground truth.
        evidence: text the debaters and consultants read and a blind judge does not.
        reference: a reference answer for judges that read one (never shown as a candidate).
        source: where the row came from, ``file:line``.
        meta: anything else a loader kept (a bias category, a label name ...).
    """

    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1)
    question: str = Field(min_length=1)
    answers: tuple[str, ...] = Field(min_length=2)
    gold: int | None = None
    evidence: str | None = None
    reference: str | None = None
    source: str = ""
    meta: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _gold_in_range(self) -> Item:
        if self.gold is not None and not 0 <= self.gold < len(self.answers):
            raise ValueError(f"gold must index one of the {len(self.answers)} answers, got {self.gold}")
        if any(not a.strip() for a in self.answers):
            raise ValueError("an answer is empty")
        return self

    def view(self, *, evidence: bool = False) -> View:
        """The item as an agent sees it; the evidence only when granted."""
        return View(question=self.question, answers=self.answers, evidence=self.evidence if evidence else None)

    def references(self) -> dict[str, str]:
        """The texts a judge can take as a reference, by field: ``reference``, and each text field of ``meta``."""
        fields = {key: value for key, value in self.meta.items() if isinstance(value, str) and value.strip()}
        return fields | ({"reference": self.reference} if self.reference else {})

    def state(self) -> dict[str, Any]:
        """The input of a protocol graph."""
        return {
            "question": self.question,
            "answers": list(self.answers),
            "evidence": self.evidence,
            "references": self.references(),
        }


@dataclass(frozen=True)
class Malformed:
    """A row that could not be used: where it is (``file:line`` or ``file:index``) and why."""

    source: str
    reason: str


@dataclass(frozen=True)
class ProbeItem:
    """A question, its gold (``good``) answer and a wrong (``bad``) one; ``source`` says where the row came from."""

    question: str
    good: str
    bad: str
    source: str = ""
    references: dict[str, str] = field(default_factory=dict)  # the item's reference texts, for judges that read one

    def view(self) -> View:
        """The pair as a judge sees it: the good answer first."""
        return View(question=self.question, answers=(self.good, self.bad), references=self.references)
