"""Pointwise scores (``--scale N``) and rubrics (``--rubric FILE``): one call per answer that shows only that
answer, the arithmetic of scores, weights, ties and margins, re-asks, bad input, the CLI, a jury on the fake server
through the official openai client, and scenario files."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from agora.agents.judge import Judge
from agora.backends.scripted import ScriptedBackend
from agora.errors import ConfigError
from agora.methods.rubric import Criterion, Rubric, RubricForm, load_rubric
from agora.methods.scale import Scale
from agora.state import View
from agora.types import Message, Turn
from tests.fixtures.fake_server import FakeServer
from tests.fixtures.scenarios import write_scenario

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "Write a haiku about the sea."
ANSWERS = ("Waves fold into foam / salt wind combs the grey water / gulls stitch sky to shore", "The sea is big.")
REFERENCE = "Cold tide under moon / the harbour lamps lean seaward / ropes creak in the dark"


def scored_by(scores: dict[str, str]) -> Callable[[Sequence[Message]], str]:
    """A scripted reply: for the call whose user message holds answer text ``k``, the JSON ``scores[k]``."""

    def reply(messages: Sequence[Message]) -> str:
        held = [text for text in scores if text in messages[1].content]
        assert len(held) == 1, messages[1].content
        return scores[held[0]]

    return reply


def score(value: int, reasoning: str = "Looked at it.") -> str:
    return json.dumps({"reasoning": reasoning, "score": value})


def marks(reasoning: str = "Checked each criterion.", **by_criterion: int) -> str:
    return json.dumps({"reasoning": reasoning, **by_criterion})


def user_messages(backend: ScriptedBackend) -> list[str]:
    return [call.messages[1].content for call in backend.calls]


# -- Scale


async def test_each_answer_is_scored_alone_and_the_best_wins() -> None:
    backend = ScriptedBackend(scored_by({ANSWERS[0]: score(4, "vivid"), ANSWERS[1]: score(2, "flat")}))
    verdict = await Judge(backend, form=Scale(5)).judge(QUESTION, ANSWERS)

    assert len(backend.calls) == 2
    for call, answer, other in zip(backend.calls, ANSWERS, reversed(ANSWERS), strict=True):
        assert answer in call.messages[1].content and other not in call.messages[1].content
        assert QUESTION in call.messages[1].content and "Answer B" not in call.messages[1].content
        assert "from 1 (worst) to 5 (best)" in call.messages[0].content
        assert call.schema is not None and call.schema.json_schema["properties"]["score"]["maximum"] == 5
        assert list(call.schema.json_schema["properties"]) == ["reasoning", "score"]
    assert verdict.method == "scale" and verdict.scores == [4, 2]
    assert verdict.choice == 0 and not verdict.abstained and verdict.flags == []
    assert verdict.confidence == 100 * (4 - 2) / (5 - 1)
    assert verdict.reasoning == "Answer A (4 of 5): vivid\n\nAnswer B (2 of 5): flat"
    words = [sum(len(m.content.split()) for m in call.messages) for call in backend.calls]
    assert verdict.usage.prompt_tokens == sum(words) and verdict.attempts == 2


async def test_the_margin_is_over_the_runner_up_of_three() -> None:
    answers = ("first answer", "second answer", "third answer")
    backend = ScriptedBackend(scored_by({answers[0]: score(3), answers[1]: score(9), answers[2]: score(7)}))
    verdict = await Judge(backend, form=Scale(10)).judge(QUESTION, answers)
    assert verdict.scores == [3, 9, 7] and verdict.choice == 1
    assert verdict.confidence == pytest.approx(100 * 2 / 9)


async def test_a_tie_for_best_is_undecided() -> None:
    answers = ("one", "two", "three")
    backend = ScriptedBackend(scored_by({"one": score(5), "two": score(2), "three": score(5)}))
    verdict = await Judge(backend, form=Scale(5)).judge(QUESTION, answers)
    assert verdict.scores == [5, 2, 5]
    assert verdict.choice is None and verdict.abstained and verdict.confidence == 0
    assert verdict.flags == ["tied-scores"]


async def test_a_score_outside_the_scale_is_re_asked() -> None:
    def reply(messages: Sequence[Message]) -> str:
        if ANSWERS[1] in messages[1].content:
            return score(1)
        return score(3) if "not valid" in messages[-1].content else score(7)

    backend = ScriptedBackend(reply)
    verdict = await Judge(backend, form=Scale(5)).judge(QUESTION, ANSWERS)
    reasks = [c.messages[-1].content for c in backend.calls if len(c.messages) > 2]
    assert len(reasks) == 1 and "score: Input should be less than or equal to 5" in reasks[0]
    assert verdict.scores == [3, 1] and verdict.choice == 0 and verdict.attempts == 3


async def test_the_reference_evidence_and_transcript_reach_every_call() -> None:
    turns = (
        Turn(speaker="debater_a", role="debater", round=1, side=0, text="Answer A keeps the 5-7-5 form."),
        Turn(speaker="debater_b", role="debater", round=1, side=1, text="Answer B is plainer than Answer A."),
    )
    seen = View(
        question=QUESTION, answers=ANSWERS, transcript=turns, evidence="A haiku has three lines.",
        references={"gold": REFERENCE},
    )  # fmt: skip
    backend = ScriptedBackend(scored_by({ANSWERS[0]: score(5), ANSWERS[1]: score(1)}))
    await Judge(backend, form=Scale(5), reference="gold").decide(seen)
    first, second = user_messages(backend)
    for message in (first, second):
        assert REFERENCE in message and "Reference answer" in message and "A haiku has three lines." in message
    assert "debater_a (debater, arguing for Answer A)" in first and "Answer B is plainer than Answer A." in first
    # in the call for the second answer, that answer is Answer A, in the transcript too
    assert "debater_b (debater, arguing for Answer A)" in second and "Answer A is plainer than Answer B." in second
    assert "debater_a (debater, arguing for Answer B)" in second


async def test_no_reference_is_sent_when_the_judge_reads_none() -> None:
    seen = View(question=QUESTION, answers=ANSWERS, references={"gold": REFERENCE})
    backend = ScriptedBackend(scored_by({ANSWERS[0]: score(5), ANSWERS[1]: score(1)}))
    await Judge(backend, form=Scale(5)).decide(seen)
    assert all(REFERENCE not in message for message in user_messages(backend))


def test_a_scale_below_two_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"^--scale: must be at least 2, got 1$"):
        Scale(1)
    with pytest.raises(ConfigError, match=r"^--scale: must be at least 2, got 0$"):
        RubricForm(Rubric(criteria=[Criterion(name="x", description="x")]), points=0)


# -- Rubric

RUBRIC: dict[str, Any] = {
    "name": "poems",
    "description": "Haiku judged as poems.",
    "criteria": [
        {"name": "form", "description": "Three lines of five, seven and five syllables.", "weight": 3},
        {"name": "imagery", "description": "Concrete images of the subject.", "weight": 1},
    ],
}


def write_rubric(directory: Path, body: Any, name: str = "rubric.yaml") -> Path:
    path = directory / name
    path.write_text(body if isinstance(body, str) else yaml.safe_dump(body, sort_keys=False))
    return path


def rubric(**weights: float) -> Rubric:
    body = json.loads(json.dumps(RUBRIC))
    for criterion in body["criteria"]:
        criterion["weight"] = weights.get(criterion["name"], criterion["weight"])
    return Rubric.model_validate(body)


async def test_a_rubric_asks_every_criterion_per_answer_and_weighs_them(tmp_path: Path) -> None:
    form = RubricForm(load_rubric(write_rubric(tmp_path, RUBRIC)), points=5)
    backend = ScriptedBackend(scored_by({ANSWERS[0]: marks(form=5, imagery=1), ANSWERS[1]: marks(form=2, imagery=5)}))
    verdict = await Judge(backend, form=form).judge(QUESTION, ANSWERS)

    assert len(backend.calls) == 2
    for call, answer, other in zip(backend.calls, ANSWERS, reversed(ANSWERS), strict=True):
        assert answer in call.messages[1].content and other not in call.messages[1].content
        instructions = call.messages[0].content
        for criterion in RUBRIC["criteria"]:
            assert f"- {criterion['name']}: {criterion['description']}" in instructions
        assert "Haiku judged as poems." in instructions
        assert call.schema is not None
        properties = call.schema.json_schema["properties"]
        assert list(properties) == ["reasoning", "form", "imagery"]
        assert properties["form"]["minimum"] == 1 and properties["form"]["maximum"] == 5
    assert verdict.method == "rubric"
    assert verdict.criteria == {"form": [5, 2], "imagery": [1, 5]}
    a, b = (3 * 5 + 1 * 1) / 4, (3 * 2 + 1 * 5) / 4
    assert verdict.scores == [a, b] and verdict.choice == 0
    assert verdict.confidence == pytest.approx(100 * (a - b) / 4)
    assert verdict.reasoning.startswith("Answer A (4 of 5; form 5, imagery 1): Checked each criterion.")


@pytest.mark.parametrize(("weights", "choice"), [({"form": 3, "imagery": 1}, 0), ({"form": 1, "imagery": 3}, 1)])
async def test_the_weights_decide_between_the_same_criterion_scores(weights: dict[str, float], choice: int) -> None:
    backend = ScriptedBackend(scored_by({ANSWERS[0]: marks(form=5, imagery=2), ANSWERS[1]: marks(form=2, imagery=4)}))
    verdict = await Judge(backend, form=RubricForm(rubric(**weights))).judge(QUESTION, ANSWERS)
    assert verdict.choice == choice


async def test_a_zero_weight_criterion_does_not_count_and_a_weighted_tie_is_undecided() -> None:
    backend = ScriptedBackend(scored_by({ANSWERS[0]: marks(form=4, imagery=1), ANSWERS[1]: marks(form=4, imagery=5)}))
    verdict = await Judge(backend, form=RubricForm(rubric(imagery=0))).judge(QUESTION, ANSWERS)
    assert verdict.scores == [4, 4] and verdict.choice is None and verdict.abstained
    assert verdict.flags == ["tied-scores"] and verdict.criteria == {"form": [4, 4], "imagery": [1, 5]}


async def test_a_missing_criterion_score_is_re_asked_and_the_reference_is_sent() -> None:
    def reply(messages: Sequence[Message]) -> str:
        if ANSWERS[1] in messages[1].content:
            return marks(form=1, imagery=1)
        return marks(form=3, imagery=3) if "not valid" in messages[-1].content else marks(form=3)

    backend = ScriptedBackend(reply)
    judge = Judge(backend, form=RubricForm(rubric(), points=3), reference="gold")
    verdict = await judge.decide(View(question=QUESTION, answers=ANSWERS, references={"gold": REFERENCE}))
    assert all(REFERENCE in message for message in user_messages(backend))
    assert any("imagery: Field required" in c.messages[-1].content for c in backend.calls if len(c.messages) > 2)
    assert verdict.scores == [3, 1] and verdict.confidence == 100 and verdict.attempts == 3


def test_the_bundled_rubric_loads() -> None:
    path = ROOT / "rubrics" / "instruction-following.yaml"
    example = load_rubric(path)
    assert 3 <= len(example.criteria) <= 4 and all(c.weight > 0 for c in example.criteria)
    assert "adherence" in [c.name for c in example.criteria]
    assert re.search(r"^#.*(licen[cs]e|wrote|written)", path.read_text(), re.MULTILINE | re.IGNORECASE)


def criteria(*weights: float) -> dict[str, Any]:
    return {"criteria": [{"name": f"c{i}", "description": "d", "weight": w} for i, w in enumerate(weights)]}


BAD_RUBRICS = [
    ({"name": "empty", "criteria": []}, "criteria: List should have at least 1 item"),
    ({"name": "none"}, "criteria: Field required"),
    (criteria(1, -2), "criteria.1.weight: Input should be greater than or equal to 0"),
    (criteria(0, 0), "criteria: the weights add up to 0"),
    (
        {"criteria": [{"name": "x", "description": "d"}, {"name": "x", "description": "e"}]},
        "criteria: names must be unique",
    ),
    ({"criteria": [{"name": "reasoning", "description": "d"}]}, "criteria.0.name: 'reasoning' is the judge's"),
    ({"criteria": [{"name": "x", "description": "d", "wieght": 2}]}, "criteria.0.wieght: unknown field"),
    ("criteria: [unclosed", "line 1: not valid YAML"),
    ("- a list", "a rubric must be a mapping, got list"),
]


@pytest.mark.parametrize(("body", "message"), BAD_RUBRICS, ids=[m for _, m in BAD_RUBRICS])
def test_a_bad_rubric_is_one_line_naming_the_file_and_field(tmp_path: Path, body: Any, message: str) -> None:
    path = write_rubric(tmp_path, body)
    with pytest.raises(ConfigError) as error:
        load_rubric(path)
    assert str(error.value).startswith(f"{path}: {message}") and "\n" not in str(error.value)


def test_a_missing_rubric_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=f"^{tmp_path / 'nope.yaml'}: cannot read the rubric"):
        load_rubric(tmp_path / "nope.yaml")


# -- the CLI

CLI_QUESTION = ["--question", QUESTION, "--answer", ANSWERS[0], "--answer", ANSWERS[1]]


def agora(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "agora", *args], capture_output=True, text=True, env=env, timeout=600)


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize("command", ["judge", "jury"])
def test_cli_refuses_a_scale_of_one(command: str) -> None:
    error = one_line_error(agora(command, "--model", "scripted:/unused.json", *CLI_QUESTION, "--scale", "1"))
    assert "--scale" in error and "at least 2, got 1" in error


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (criteria(2, -1), "criteria.1.weight: Input should be greater than or equal to 0"),
        ({"name": "empty", "criteria": []}, "criteria: List should have at least 1 item"),
        (None, "cannot read the rubric"),
    ],
)
def test_cli_refuses_a_bad_rubric_naming_file_and_field(tmp_path: Path, body: Any, message: str) -> None:
    path = write_rubric(tmp_path, body) if body is not None else tmp_path / "missing.yaml"
    result = agora("judge", "--model", "scripted:/unused.json", *CLI_QUESTION, "--rubric", str(path))
    assert f"{path}: {message}" in one_line_error(result)


def test_cli_judge_prints_the_scores_and_a_tie_undecided(tmp_path: Path) -> None:
    replies = tmp_path / "replies.json"
    replies.write_text(json.dumps([score(2, "fine")] * 2))
    result = agora("judge", "--model", f"scripted:{replies}", *CLI_QUESTION, "--scale", "3", "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["method"] == "scale" and payload["scores"] == [2, 2]
    assert payload["choice"] is None and payload["answer"] is None and payload["flags"] == ["tied-scores"]


def recorder(bodies: list[dict[str, Any]]) -> Callable[[dict[str, Any]], float]:
    """A fake-server latency function that keeps every request body (and adds no latency)."""

    def keep(body: dict[str, Any]) -> float:
        bodies.append(body)
        return 0.0

    return keep


def check_scored(verdict: dict[str, Any], points: int) -> None:
    """The choice, the tie and the margin of a verdict as JSON follow from its scores."""
    scores = verdict["scores"]
    assert len(scores) == 2 and all(1 <= s <= points for s in scores)
    best, runner_up = sorted(scores, reverse=True)
    assert verdict["choice"] == (None if best == runner_up else scores.index(best))
    assert verdict["confidence"] == pytest.approx(100 * (best - runner_up) / (points - 1))


def test_cli_rubric_on_the_fake_server_records_each_criterion(fake_server: FakeServer, tmp_path: Path) -> None:
    bodies: list[dict[str, Any]] = []
    fake_server.latency = recorder(bodies)
    path = write_rubric(tmp_path, RUBRIC)
    result = agora(
        "judge", "--model", "openai:fake", "--base-url", fake_server.url, *CLI_QUESTION, "--rubric", str(path),
        "--scale", "4", "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["method"] == "rubric" and set(payload["criteria"]) == {"form", "imagery"}
    form, imagery = payload["criteria"]["form"], payload["criteria"]["imagery"]
    assert payload["scores"] == [pytest.approx((3 * f + i) / 4) for f, i in zip(form, imagery, strict=True)]
    check_scored(payload, 4)
    assert len(bodies) == 2
    for body in bodies:
        schema = body["response_format"]["json_schema"]["schema"]
        assert list(schema["properties"]) == ["reasoning", "form", "imagery"]
        assert schema["properties"]["form"]["maximum"] == 4


def test_cli_jury_with_scores_on_the_fake_server(fake_server: FakeServer) -> None:
    bodies: list[dict[str, Any]] = []
    fake_server.latency = recorder(bodies)
    result = agora(
        "jury", "--model", "openai:fake", "--base-url", fake_server.url, "--jurors", "3", "--scale", "5",
        "--persona", "expert", "--persona", "skeptical", *CLI_QUESTION, "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    verdicts = payload["verdicts"]
    assert [v["judge"] for v in verdicts] == ["juror_1", "juror_2", "juror_3"]
    for verdict in verdicts:
        assert verdict["method"] == "scale" and verdict["attempts"] == 2
        check_scored(verdict, 5)
    assert len(bodies) == 6  # one call per answer per juror
    for body in bodies:
        assert body["response_format"]["json_schema"]["schema"]["properties"]["score"]["maximum"] == 5
        shown = body["messages"][-1]["content"]
        assert (ANSWERS[0] in shown) != (ANSWERS[1] in shown)
    decided = [v["choice"] for v in verdicts if v["choice"] is not None]
    assert payload["votes"] == [float(decided.count(0)), float(decided.count(1))]


# -- scenario files

ROWS = [{"id": "q0", "question": "Q?", "answers": ["yes", "no"], "gold": 0}]


def scenario(tmp_path: Path, judges: list[dict[str, Any]]) -> Path:
    body = {
        "name": "forms",
        "data": {"loader": "jsonl", "path": "items.jsonl"},
        "judges": judges,
        "protocols": [{"kind": "direct_qa"}],
    }
    return write_scenario(tmp_path, body, ROWS, name="forms.yaml")


def test_a_scenario_with_score_and_rubric_judges_validates(tmp_path: Path) -> None:
    from agora.scenarios import load_scenario

    (tmp_path / "rubrics").mkdir()
    write_rubric(tmp_path / "rubrics", RUBRIC, name="poems.yaml")
    loaded = load_scenario(
        scenario(tmp_path, [{"name": "scorer", "scale": 5}, {"name": "marker", "rubric": "rubrics/poems.yaml"}])
    )
    scorer, marker = loaded.judges
    assert scorer.scale == 5 and marker.rubric == str(tmp_path / "rubrics" / "poems.yaml")


@pytest.mark.parametrize(
    ("judge", "message"),
    [
        ({"scale": 1}, "judges.0.scale: Input should be greater than or equal to 2"),
        ({"rubric": "missing.yaml"}, "judges.0.rubric: "),
        ({"rubric": "bad.yaml"}, "judges.0.rubric: "),
    ],
)
def test_a_bad_scoring_judge_in_a_scenario_names_the_field(tmp_path: Path, judge: dict[str, Any], message: str) -> None:
    from agora.scenarios import load_scenario

    bad = write_rubric(tmp_path, criteria(1, -1), name="bad.yaml")
    path = scenario(tmp_path, [judge])
    with pytest.raises(ConfigError) as error:
        load_scenario(path)
    text = str(error.value)
    assert text.startswith(f"{path}: {message}") and "\n" not in text
    if judge.get("rubric") == "bad.yaml":
        assert f"{bad}: criteria.1.weight" in text
    if judge.get("rubric") == "missing.yaml":
        assert "missing.yaml: cannot read the rubric" in text
