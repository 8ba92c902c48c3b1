"""The form of a judge's reading: what it is asked and how its reply becomes a verdict. ``Direct`` picks a letter."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from agora.structured import ask_structured
from agora.transcript import LABELS

if TYPE_CHECKING:
    from agora.agents.judge import Judge
    from agora.state import View
    from agora.types import Settings, Verdict


class Form(Protocol):
    """One reading of a view by a judge: a single structured ask (or a few), turned into a verdict.

    ``read`` returns the verdict in the order of ``seen.answers``; the judge repeats it for samples and swaps.
    """

    name: str

    async def read(self, judge: Judge, seen: View, settings: Settings) -> Verdict: ...


class Direct:
    """The judge chooses a letter and states its confidence (and may abstain when the judge allows it)."""

    name = "direct"

    async def read(self, judge: Judge, seen: View, settings: Settings) -> Verdict:
        from agora.agents.judge import ABSTAIN, answer_probability, verdict_schema

        schema = verdict_schema(len(seen.answers), judge.allow_abstain)
        messages, tail = judge.prompt_parts(seen)
        result = await ask_structured(judge.model, messages, schema, settings, max_reasks=judge.max_reasks, tail=tail)
        reply: Any = result.value
        abstained = reply.answer == ABSTAIN
        labels = LABELS[: len(seen.answers)]
        tokens = result.completions[-1].logprobs
        return judge.verdict(
            result,
            choice=None if abstained else LABELS.index(reply.answer),
            confidence=reply.confidence,
            reasoning=reply.reasoning,
            abstained=abstained,
            probability=None if abstained else answer_probability(tokens, reply.answer, labels),
        )
