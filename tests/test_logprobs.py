"""A verdict's probability read from token log-probabilities, where the backend gives them."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

from agora.agents.judge import Judge
from agora.backends import Backend
from agora.methods.form import answer_probability
from agora.types import Completion, Message, OutputSchema, Settings, TokenLogprob

REPLY = [
    '{"',
    "reasoning",
    '":',
    ' "',
    "because",
    '",',
    ' "',
    "answer",
    '":',
    ' "',
    "B",
    '",',
    ' "confidence',
    '":',
    " 70}",
]


def tokens(top: dict[str, float]) -> list[TokenLogprob]:
    return [
        TokenLogprob(token=t, logprob=math.log(0.6) if t == "B" else -0.01, top=top if t == "B" else {}) for t in REPLY
    ]


def test_probability_is_renormalised_over_the_answer_labels() -> None:
    top = {"B": math.log(0.6), "A": math.log(0.2), " C": math.log(0.1), "x": math.log(0.05)}
    assert math.isclose(answer_probability(tokens(top), "B", "AB"), 0.6 / 0.8)  # type: ignore[arg-type]
    assert math.isclose(answer_probability(tokens(top), "B", "ABC"), 0.6 / 0.9)  # type: ignore[arg-type]


def test_no_probability_without_the_answer_token() -> None:
    assert answer_probability([], "B", "AB") is None
    reasoning_only = [TokenLogprob(token=t, logprob=-0.1) for t in ['{"', "reasoning", '": "', "B", " is"]]
    assert answer_probability(reasoning_only, "B", "AB") is None  # a "B" outside the answer field is not it


class WithLogprobs(Backend):
    kind = "with-logprobs"

    def __init__(self) -> None:
        super().__init__("m")
        self.settings: list[Settings] = []

    async def complete(
        self, messages: Sequence[Message], settings: Settings, schema: OutputSchema | None = None
    ) -> Completion:
        self.settings.append(settings)
        top = {"B": math.log(0.6), "A": math.log(0.3)}
        text = json.dumps({"reasoning": "because", "answer": "B", "confidence": 70})
        return Completion(text=text, model="m", logprobs=tuple(tokens(top)) if settings.logprobs else ())


async def test_judge_asks_for_logprobs_and_fills_the_probability() -> None:
    model = WithLogprobs()
    verdict = await Judge(model, logprobs=True).judge("q?", ["a", "b"])
    assert model.settings[0].logprobs
    assert verdict.choice == 1 and verdict.confidence == 70
    assert math.isclose(verdict.probability, 0.6 / 0.9)  # type: ignore[arg-type]
    assert (await Judge(model).judge("q?", ["a", "b"])).probability is None
