"""A human in the judge's seat: the graph pauses (LangGraph ``interrupt``) and resumes with the human's verdict."""

from __future__ import annotations

from typing import Any

from langgraph.types import interrupt
from pydantic import BaseModel, Field, ValidationError

from agora.errors import ConfigError
from agora.state import View
from agora.transcript import render_transcript
from agora.types import Verdict


class HumanVerdict(BaseModel):
    """What a human resumes the graph with."""

    choice: int | None = Field(description="0-based index of the chosen answer; None to abstain")
    confidence: float = Field(ge=0, le=100)
    reasoning: str = ""


class HumanJudge:
    """Judges by asking a person: needs a graph compiled with a checkpointer; resume with
    ``Command(resume={"choice": 1, "confidence": 80, "reasoning": "..."})``. Alone or seated in a jury beside
    model jurors; ``weight`` counts in weighted voting rules.
    """

    role = "human"

    def __init__(self, name: str = "human", *, weight: float = 1.0) -> None:
        self.name = name
        self.weight = weight

    async def decide(self, seen: View) -> Verdict:
        """Pause the graph with what the human should read; validate what they send back."""
        reply: Any = interrupt(
            {
                "question": seen.question,
                "answers": list(seen.answers),
                "evidence": seen.evidence,
                "transcript": render_transcript(seen.transcript),
            }
        )
        try:
            human = HumanVerdict.model_validate(reply)
        except ValidationError as exc:
            raise ConfigError(f"human verdict: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}") from None
        if human.choice is not None and not 0 <= human.choice < len(seen.answers):
            raise ConfigError(f"human verdict: choice: {human.choice} is not an answer index")
        return Verdict(
            choice=human.choice,
            confidence=human.confidence,
            reasoning=human.reasoning,
            abstained=human.choice is None,
            judge=self.name,
            model="human",
        )
