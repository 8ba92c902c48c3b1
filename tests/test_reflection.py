"""A jury as the critic of langgraph-reflection's real loop, through ``agora.critic`` and examples/reflection.py."""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from agora.agents.juror import Juror
from agora.backends.scripted import ScriptedBackend
from agora.critic import recursion_limit, turn
from agora.errors import ConfigError
from agora.protocols import Jury
from agora.types import Message

pytest.importorskip("langgraph_reflection")
# langgraph-reflection 0.0.1 passes LangGraph 1.x a deprecated ``config_schema``; that is its business, not ours.
pytestmark = pytest.mark.filterwarnings("ignore:`config_schema` is deprecated:DeprecationWarning")
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
sys.path.insert(0, str(EXAMPLES))
example = importlib.import_module("reflection")

TASK = "Why is the sky blue?"


def verdict(answer: str, reason: str) -> str:
    return json.dumps({"reasoning": reason, "answer": answer, "confidence": 80})


def shown(messages: Sequence[Message]) -> tuple[str, str]:
    """The task and the candidate output a juror's prompt showed it."""
    prompt = messages[-1].content
    task, _, rest = prompt.split("Task:\n", 1)[1].partition("\n\nCandidate output:\n")
    return task.strip(), rest.split("\n\nShould it be accepted?")[0].strip()


def juror(decide: Callable[[str], bool], name: str) -> tuple[Juror, ScriptedBackend]:
    """A juror accepting the outputs ``decide`` likes (answer A), rejecting the others with a reason naming them."""

    def reply(messages: Sequence[Message]) -> str:
        output = shown(messages)[1]
        return (
            verdict("A", f"{name} likes it") if decide(output) else verdict("B", f"{name}: no Rayleigh in {output!r}")
        )

    backend = ScriptedBackend(reply, model=name)
    return Juror(backend, name=name), backend


def jury_of(*deciders: Callable[[str], bool]) -> tuple[Jury, list[ScriptedBackend]]:
    seats = [juror(decide, f"j{i + 1}") for i, decide in enumerate(deciders)]
    return Jury([j for j, _ in seats]), [b for _, b in seats]


def rayleigh(output: str) -> bool:
    return "Rayleigh" in output


async def test_an_accepting_jury_ends_the_loop_after_the_first_answer() -> None:
    generator = ScriptedBackend(["Rayleigh scattering.", "unused"])
    jury, backends = jury_of(rayleigh, rayleigh, rayleigh)
    final = await example.build(generator, jury).ainvoke(
        {"messages": [HumanMessage(TASK)]}, {"recursion_limit": recursion_limit(5)}
    )
    assert len(generator.calls) == 1
    assert [m.type for m in final["messages"]] == ["human", "ai"]
    assert example.outcome(final["messages"]) == ("Rayleigh scattering.", 1, True)
    assert [shown(b.calls[0].messages) for b in backends] == [(TASK, "Rayleigh scattering.")] * 3


async def test_a_rejection_reaches_the_generator_and_the_jury_judges_the_latest_answer() -> None:
    generator = ScriptedBackend(["The sky is grey.", "Blue light scatters more: Rayleigh scattering.", "unused"])
    jury, backends = jury_of(rayleigh, rayleigh, lambda output: True)
    final = await example.build(generator, jury).ainvoke(
        {"messages": [HumanMessage(TASK)]}, {"recursion_limit": recursion_limit(5)}
    )
    assert len(generator.calls) == 2
    assert example.outcome(final["messages"]) == ("Blue light scatters more: Rayleigh scattering.", 2, True)
    second = generator.calls[1].messages
    assert [m.role for m in second[1:]] == ["user", "assistant", "user"]
    assert second[2].content == "The sky is grey."
    rejected = second[3].content
    assert "Reviewers rejected your answer" in rejected
    assert "j1: no Rayleigh in 'The sky is grey.'" in rejected and "j2: no Rayleigh" in rejected
    assert "j3 likes it" not in rejected  # only the reasons of the jurors who rejected
    feedback = final["messages"][2]
    assert isinstance(feedback, HumanMessage) and feedback.name == "jury"
    for backend in backends:  # each round the jury saw the original task and that round's answer, not a stale one
        assert [shown(call.messages) for call in backend.calls] == [
            (TASK, "The sky is grey."),
            (TASK, "Blue light scatters more: Rayleigh scattering."),
        ]


@pytest.mark.parametrize("max_rounds", [1, 3])
async def test_an_always_rejecting_jury_stops_cleanly_at_the_round_limit(max_rounds: int) -> None:
    generator = ScriptedBackend(lambda messages: f"Grey, attempt {len(messages) // 2}.")
    jury, backends = jury_of(rayleigh, rayleigh)
    final = await example.build(generator, jury).ainvoke(
        {"messages": [HumanMessage(TASK)]}, {"recursion_limit": recursion_limit(max_rounds)}
    )
    assert len(generator.calls) == max_rounds and all(len(b.calls) == max_rounds for b in backends)
    assert [m.type for m in final["messages"]] == ["human", *["ai", "human"] * max_rounds]
    answer, rounds, accepted = example.outcome(final["messages"])
    assert (answer, rounds, accepted) == (f"Grey, attempt {max_rounds}.", max_rounds, False)
    assert shown(backends[0].calls[-1].messages) == (TASK, answer)


@pytest.mark.parametrize(("on_inconclusive", "answers"), [("accept", 1), ("reject", 2)])
async def test_an_inconclusive_jury_accepts_unless_told_to_reject(on_inconclusive: str, answers: int) -> None:
    generator = ScriptedBackend(lambda messages: "Grey.")
    jury, _ = jury_of(rayleigh, lambda output: True)  # one for, one against: a tie, inconclusive under majority
    final = await example.build(generator, jury, on_inconclusive).ainvoke(
        {"messages": [HumanMessage(TASK)]}, {"recursion_limit": recursion_limit(2)}
    )
    assert len(generator.calls) == answers
    if on_inconclusive == "reject":
        feedback = final["messages"][-1].content
        assert feedback.startswith("Reviewers could not agree")
        assert "j1: no Rayleigh in 'Grey.'" in feedback and "j2: j2 likes it" in feedback


def test_the_task_is_the_latest_question_before_the_answer_not_the_feedback() -> None:
    messages = [
        SystemMessage("Be brief."),
        HumanMessage("What is 2 + 2?"),
        AIMessage("4"),
        HumanMessage(TASK),
        AIMessage("Grey."),
        HumanMessage("Reviewers rejected your answer.", name="jury"),
        AIMessage(content=[{"type": "text", "text": "Rayleigh scattering."}]),
    ]
    assert turn(messages) == (TASK, "Rayleigh scattering.")
    assert turn(messages[:5]) == (TASK, "Grey.")
    assert turn(messages, name="someone else") == ("Reviewers rejected your answer.", "Rayleigh scattering.")


@pytest.mark.parametrize(
    ("messages", "error"),
    [
        ([HumanMessage(TASK)], "no AI message to judge"),
        ([HumanMessage("feedback", name="jury"), AIMessage("Grey.")], "no human message (the task)"),
    ],
)
def test_a_conversation_without_a_task_or_answer_is_named(messages: list[HumanMessage], error: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(f"reflection: messages: {error}")):
        turn(messages)


def test_a_round_limit_below_one_is_refused() -> None:
    with pytest.raises(ConfigError, match="max_rounds must be at least 1, got 0"):
        recursion_limit(0)


def run_example(tmp_path: Path, replies: list[str], *args: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "replies.json"
    script.write_text(json.dumps(replies))
    command = [sys.executable, str(EXAMPLES / "reflection.py"), "--model", f"scripted:{script}", "--jurors", "1"]
    return subprocess.run([*command, "--task", TASK, *args], capture_output=True, text=True, timeout=120)


def test_the_example_revises_until_the_jury_accepts(tmp_path: Path) -> None:
    # One scripted model in turn: the generator, then the single juror.
    replies = ["Grey.", verdict("B", "no Rayleigh"), "Rayleigh scattering.", verdict("A", "right")]
    result = run_example(tmp_path, replies)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["answer: Rayleigh scattering.", "rounds: 2 (accepted by the jury)"]


def test_the_example_stops_at_max_rounds_and_refuses_a_bad_one(tmp_path: Path) -> None:
    replies = ["Grey.", verdict("B", "no"), "Still grey.", verdict("B", "no"), "never asked"]
    result = run_example(tmp_path, replies, "--max-rounds", "2")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "answer: Still grey.",
        "rounds: 2 (still rejected: stopped at --max-rounds 2)",
    ]
    bad = run_example(tmp_path, replies, "--max-rounds", "0")
    assert bad.returncode == 2 and bad.stderr.splitlines()[-1].endswith("--max-rounds must be at least 1, got 0")
