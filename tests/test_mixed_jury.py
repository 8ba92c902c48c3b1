"""A jury of a human and model jurors: the graph pauses for the human and the human's vote counts."""

from __future__ import annotations

import json

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from agora.agents.human import HumanJudge
from agora.agents.judge import Judge
from agora.agents.juror import Juror
from agora.backends.scripted import ScriptedBackend
from agora.checkpoint import serializer
from agora.errors import ConfigError
from agora.protocols import Jury, direct_qa
from agora.state import View

CASE = {"question": "Which is right?", "answers": ["first", "second"]}


def juror(name: str, answer: str) -> tuple[Juror, ScriptedBackend]:
    reply = json.dumps({"reasoning": f"{name} says {answer}", "answer": answer, "confidence": 80})
    backend = ScriptedBackend(lambda messages: reply)
    return Juror(backend, name=name), backend


async def test_the_human_breaks_the_tie_of_two_model_jurors() -> None:
    (a, a_model), (b, b_model) = juror("model_a", "A"), juror("model_b", "B")
    graph = direct_qa(Jury([HumanJudge(), a, b]), checkpointer=InMemorySaver(serde=serializer()))
    config = {"configurable": {"thread_id": "mixed"}}
    paused = await graph.ainvoke(CASE, config)
    (interrupt,) = paused["__interrupt__"]
    assert interrupt.value["question"] == CASE["question"] and interrupt.value["answers"] == CASE["answers"]
    assert "decision" not in paused
    state = await graph.ainvoke(Command(resume={"choice": 1, "confidence": 90, "reasoning": "second"}), config)
    decision = state["decision"]
    assert (decision.outcome, decision.votes) == (1, [1.0, 2.0])
    assert sorted((v.judge, v.choice) for v in state["verdicts"]) == [("human", 1), ("model_a", 0), ("model_b", 1)]
    assert len(a_model.calls) == len(b_model.calls) == 1  # resuming does not ask the model jurors again


async def test_a_weighted_human_and_a_plain_judge_sit_in_one_jury() -> None:
    reply = json.dumps({"reasoning": "A it is", "answer": "A", "confidence": 80})
    judge = Judge(ScriptedBackend(lambda messages: reply), name="plain")
    (b, _) = juror("model_b", "B")
    jury = Jury([HumanJudge(weight=2), judge, b], "weighted")
    graph = direct_qa(jury, checkpointer=InMemorySaver(serde=serializer()))
    config = {"configurable": {"thread_id": "weighted"}}
    await graph.ainvoke(CASE, config)
    state = await graph.ainvoke(Command(resume={"choice": 0, "confidence": 70}), config)
    assert (state["decision"].outcome, state["decision"].votes) == (0, [3.0, 1.0])


async def test_the_foreperson_is_the_first_juror_who_can_ask_a_question() -> None:
    (a, a_model), (b, b_model) = juror("model_a", "A"), juror("model_b", "B")
    jury = Jury([HumanJudge(), a, b])
    assert jury.name == "model_a"
    seen = View(question="Which is right?", answers=("first", "second"))
    assert await jury.ask(seen) and (len(a_model.calls), len(b_model.calls)) == (1, 0)
    with pytest.raises(ConfigError, match="no juror can ask"):
        await Jury([HumanJudge("ann"), HumanJudge("bob")]).ask(seen)
