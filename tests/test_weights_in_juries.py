"""Juror weights reach the voting rule: from a scenario's judges, from ``agora jury --weight``, from ``Juror``."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from agora.agents.juror import Juror
from agora.aggregation.thresholds import Thresholds
from agora.backends.scripted import ScriptedBackend
from agora.cli import main
from agora.errors import ConfigError
from agora.protocols import Jury, direct_qa
from agora.runner.options import Options
from agora.runner.run import Run
from agora.scenarios import load_scenario
from agora.types import Decision
from tests.fixtures.scenarios import numbered_rows, write_scenario

CASE = {"question": "Which is right?", "answers": ["first", "second"]}


def verdict(answer: str) -> str:
    return json.dumps({"reasoning": f"I say {answer}", "answer": answer, "confidence": 80})


@pytest.fixture
def replies(tmp_path: Path) -> dict[str, str]:
    """Scripted model specs: ``A`` always chooses the first answer, ``B`` the second."""
    specs = {}
    for answer in "AB":
        path = tmp_path / f"{answer}.json"
        path.write_text(json.dumps([verdict(answer)] * 8))
        specs[answer] = f"scripted:{path}"
    return specs


def weights_scenario(tmp_path: Path, replies: dict[str, str], jury: dict[str, Any], heavy: float = 3) -> Path:
    """A one-item scenario: ``heavy`` (weight ``heavy``) says A, ``light1`` and ``light2`` say B."""
    body = {
        "name": "weights",
        "data": {"loader": "jsonl", "path": "items.jsonl"},
        "judges": [
            {"name": "heavy", "model": replies["A"], "weight": heavy},
            {"name": "light1", "model": replies["B"]},
            {"name": "light2", "model": replies["B"]},
        ],
        "jury": jury,
        "protocols": [{"kind": "direct_qa"}],
        "cache": False,
    }
    return write_scenario(tmp_path, body, numbered_rows(1))


def decided(tmp_path: Path, replies: dict[str, str], jury: dict[str, Any], out: str, heavy: float = 3) -> Decision:
    """The decision of ``weights_scenario``."""
    path = weights_scenario(tmp_path, replies, jury, heavy)
    the_run = Run.create(load_scenario(path), Options(), tmp_path / out, path)
    asyncio.run(the_run.execute())
    (record,) = the_run.store.records()
    the_run.close()
    assert record.status == "ok", record.error
    assert record.decision is not None
    return record.decision


def test_a_heavy_scenario_judge_outvotes_two_light_ones_under_weighted(tmp_path: Path, replies: dict[str, str]) -> None:
    weighted = decided(tmp_path, replies, {"rule": "weighted"}, "weighted")
    assert (weighted.outcome, weighted.votes) == (0, [3.0, 2.0])
    majority = decided(tmp_path, replies, {"rule": "majority"}, "majority", heavy=1)
    assert (majority.outcome, majority.votes) == (1, [1.0, 2.0])


def test_explicit_params_weights_reach_the_rule(tmp_path: Path, replies: dict[str, str]) -> None:
    given = {"rule": "weighted", "params": {"weights": {"heavy": 3, "light1": 1, "light2": 1}}}
    decision = decided(tmp_path, replies, given, "given", heavy=1)
    assert (decision.outcome, decision.votes) == (0, [3.0, 2.0])


@pytest.mark.parametrize(
    ("jury", "heavy", "message"),
    [
        ({"rule": "majority"}, 3, "judges: 'heavy' has a weight, and rule 'majority' takes none (use rule: weighted)"),
        (
            {"rule": "weighted", "params": {"weights": {"heavy": 1, "light1": 1, "light2": 1}}},
            3,
            "jury.params.weights: the judges carry weights already; give them in one place",
        ),
        (
            {"rule": "weighted", "params": {"weights": {"heavy": 2, "light1": 1}}},
            1,
            "jury.params.weights: no weight for judge 'light2'",
        ),
        (
            {"rule": "weighted", "params": {"weights": {"heavy": 2, "light1": 1, "light2": 1, "hevy": 1}}},
            1,
            "jury.params.weights: 'hevy' is not a judge (did you mean 'heavy'?)",
        ),
    ],
)
def test_a_weight_that_would_not_reach_the_decision_is_refused(
    tmp_path: Path, replies: dict[str, str], jury: dict[str, Any], heavy: float, message: str
) -> None:
    path = weights_scenario(tmp_path, replies, jury, heavy)
    with pytest.raises(ConfigError) as info:
        load_scenario(path)
    assert str(info.value) == f"{path}: {message}"


def scripted_juror(name: str, answer: str, weight: float = 1.0) -> Juror:
    return Juror(ScriptedBackend(lambda messages: verdict(answer)), name=name, weight=weight)


async def test_a_jury_named_rule_takes_its_jurors_weights() -> None:
    jury = Jury([scripted_juror("heavy", "A", 3), scripted_juror("l1", "B"), scripted_juror("l2", "B")], "weighted")
    decision = (await direct_qa(jury).ainvoke(CASE))["decision"]
    assert (decision.outcome, decision.votes) == (0, [3.0, 2.0])


async def test_a_spare_votes_with_the_weight_of_the_seat_it_takes() -> None:
    failing = Juror(ScriptedBackend(lambda messages: "not json"), name="heavy", weight=3, max_reasks=0)
    jury = Jury(
        [failing, scripted_juror("l1", "B"), scripted_juror("l2", "B")],
        "weighted",
        policy=Thresholds(on_failure="replace"),
        spares=[scripted_juror("spare", "A", weight=1)],
    )
    decision = (await direct_qa(jury).ainvoke(CASE))["decision"]
    assert (decision.outcome, decision.votes) == (0, [3.0, 2.0])


def jury_cli(replies: dict[str, str], *args: str) -> tuple[int, str, str]:
    models = ["--juror-model", replies["A"], "--juror-model", replies["B"], "--juror-model", replies["B"]]
    with pytest.raises(SystemExit) as exit_:
        main(["jury", *models, "--jurors", "3", *args, "--question", "Which?", "--answer", "x", "--answer", "y"])
    return exit_.value.code  # type: ignore[return-value]


def test_agora_jury_weights_reach_the_weighted_rule(
    replies: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert jury_cli(replies, "--rule", "weighted", "--weight", "3", "--weight", "1", "--weight", "1", "--json") == 0
    payload = json.loads(capsys.readouterr().out)
    assert (payload["outcome"], payload["votes"]) == (0, [3.0, 2.0])
    assert jury_cli(replies, "--rule", "weighted", "--weight", "1", "--json") == 0  # cycled: all equal
    payload = json.loads(capsys.readouterr().out)
    assert (payload["outcome"], payload["votes"]) == (1, [1.0, 2.0])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rule", "weighted", "--weight", "-1"], "Invalid value for '--weight'"),
        (["--rule", "majority", "--weight", "3"], "--weight: rule 'majority' takes no weights"),
    ],
)
def test_agora_jury_bad_weights_exit_2_on_one_line(
    replies: dict[str, str], capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert jury_cli(replies, *args) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("agora: error: ") and message in line


def test_a_weighted_rule_without_weights_is_still_an_error_outside_a_jury() -> None:
    from agora.aggregation.voting import get_rule

    with pytest.raises(ConfigError, match="weights"):
        get_rule("weighted")
