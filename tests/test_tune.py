"""``agora tune`` and ``agora.tuning``: the split, the personas proposed and scored on the training items only, the
best one written, its header recomputed from the calls, the file used as a persona, and the bad inputs."""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from agora.backends.scripted import ScriptedBackend
from agora.cli import main
from agora.personas import Persona, load_persona
from agora.scenarios import load_scenario
from agora.transcript import LABELS
from agora.tuning import PROPOSE_SYSTEM, Plan, Tuned, persona_name, split_items, tune, write
from agora.types import Message
from tests.fixtures.fake_server import FakeServer

PERSONA_TAIL = "Judge this as the following judge would:"
QUESTION = re.compile(r"QUESTION-(\d+)")
STRATEGY = re.compile(r"STRATEGY-(\d+)")


def rows(n: int, ungraded: int = 0) -> list[dict[str, Any]]:
    """``n`` labelled items, ``QUESTION-i`` each, the gold answer alternating, then ``ungraded`` without gold."""
    made = [
        {"id": f"q{i}", "question": f"QUESTION-{i}: which is right?", "answers": [f"yes {i}", f"no {i}"], "gold": i % 2}
        for i in range(n)
    ]
    return made + [{"id": f"u{i}", "question": f"UNGRADED-{i}?", "answers": ["a", "b"]} for i in range(ungraded)]


def data_file(tmp_path: Path, n: int = 10, ungraded: int = 0) -> Path:
    path = tmp_path / "items.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows(n, ungraded)))
    return path


def questions(messages: Sequence[Message]) -> set[int]:
    return {int(q) for m in messages for q in QUESTION.findall(m.content)}


def strategy(messages: Sequence[Message]) -> int | None:
    """The proposal a judge call's persona comes from (``STRATEGY-k`` in its tail), ``None`` for no persona."""
    tail = messages[1].content.partition(PERSONA_TAIL)[2]
    found = STRATEGY.search(tail)
    return int(found.group(1)) if found else None


class Script:
    """A scripted model: proposal ``k`` (in call order) is the persona ``STRATEGY-k``; a judge is right on an item
    when ``right(strategy, question)`` says so; every reply is kept with its call."""

    def __init__(self, right: Any, malformed_proposals: int = 0) -> None:
        self.right = right
        self.malformed = malformed_proposals
        self.proposed = 0
        self.replies: list[str] = []
        self.backend = ScriptedBackend(self.reply)

    def reply(self, messages: Sequence[Message]) -> str:
        text = self._reply(messages)
        self.replies.append(text)
        return text

    def _reply(self, messages: Sequence[Message]) -> str:
        if messages[0].content == PROPOSE_SYSTEM:
            if self.malformed and not messages[-1].content.startswith("That reply was not valid"):
                self.malformed -= 1
                return '{"analysis": "half a reply"'
            self.proposed += 1
            k = self.proposed
            prompt = f"You are judge STRATEGY-{k}.\nCheck each claim against what the question asks.\n"
            return json.dumps(
                {"analysis": "Correct answers answer it.", "description": f"strategy {k}", "system_prompt": prompt}
            )
        (question,) = questions(messages[1:2])
        gold = int(question) % 2
        choice = gold if self.right(strategy(messages), question) else 1 - gold
        return json.dumps({"reasoning": "Checked.", "answer": LABELS[choice], "confidence": 80})


def run(script: Script, plan: Plan, name: str = "tuned") -> Tuned:
    return asyncio.run(tune(script.backend, plan, name))


def gold_of(question: int) -> str:
    return LABELS[question % 2]


def test_split_is_disjoint_seeded_capped_and_half_and_half(tmp_path: Path) -> None:
    plan = Plan(data_file(tmp_path, n=11, ungraded=2), "jsonl", seed=3)
    split = split_items(plan)
    train, test = [item.id for item in split.train], [item.id for item in split.test]
    assert (len(train), len(test)) == (5, 6)  # 11 items: the training half rounded down
    assert not set(train) & set(test)
    assert set(train) | set(test) == {f"q{i}" for i in range(11)}  # the items without gold are left out
    assert split.ungraded == 2
    assert train + test != [f"q{i}" for i in range(11)]  # shuffled
    assert split_items(plan) == split  # the seed fixes it
    assert split_items(Plan(plan.data, "jsonl", seed=4)) != split
    capped = split_items(Plan(plan.data, "jsonl", seed=3, limit=4))
    assert (len(capped.train), len(capped.test)) == (2, 2)


def test_candidates_see_only_training_items_and_the_test_items_only_the_written_persona(tmp_path: Path) -> None:
    script = Script(lambda k, q: k == 2 or (k is None and q < 5))
    plan = Plan(data_file(tmp_path, n=10), "jsonl", seed=1, candidates=3)
    tuned = run(script, plan)
    train, test = ({int(i.id[1:]) for i in items} for items in (tuned.split.train, tuned.split.test))
    assert not train & test and train | test == set(range(10))

    calls = script.backend.calls
    proposals = [c for c in calls if c.messages[0].content == PROPOSE_SYSTEM]
    judged = [c for c in calls if c.messages[0].content != PROPOSE_SYSTEM]
    assert len(proposals) == 3 and calls[:3] == proposals  # proposals come first
    for call in proposals:  # each proposal is shown training items, with their gold answers, and nothing else
        shown = questions(call.messages)
        assert shown and shown <= train and len(shown) == plan.examples
        for q in shown:
            assert re.search(rf"QUESTION-{q}:.*?Correct: Answer {gold_of(q)}", call.messages[1].content, re.DOTALL)

    selection, measurement = judged[: 4 * len(train)], judged[4 * len(train) :]
    seen = sorted((strategy(c.messages) or 0, q) for c in selection for q in questions(c.messages[1:2]))
    assert seen == sorted((k, q) for k in range(4) for q in train)  # baseline and 3 proposals, each item once
    assert len(measurement) == len(test)
    assert sorted(q for c in measurement for q in questions(c.messages[1:2])) == sorted(test)
    assert {strategy(c.messages) for c in measurement} == {2}  # only the written persona judges the test items
    assert tuned.persona.system_prompt.startswith("You are judge STRATEGY-2")
    assert (tuned.candidates[tuned.best].train.right, tuned.test.right) == (len(train), len(test))


def test_the_best_on_the_training_items_is_written_ties_go_to_the_earlier(tmp_path: Path) -> None:
    # strategies 3 and 4 are right on every item, 1 on half of them, 2 and the baseline on none
    script = Script(lambda k, q: k in (3, 4) or (k == 1 and q % 2 == 0))
    plan = Plan(data_file(tmp_path, n=12), "jsonl", seed=5, candidates=4)
    out = tmp_path / "Judge tuned.yaml"
    tuned = run(script, plan, persona_name(out))
    by_strategy = {strategy_of(c.persona): (i, c.train.right) for i, c in enumerate(tuned.candidates)}
    n, even = len(tuned.split.train), sum(1 for i in tuned.split.train if int(i.id[1:]) % 2 == 0)
    assert [by_strategy[k][1] for k in (None, 1, 2, 3, 4)] == [0, even, 0, n, n]
    assert tuned.best == min(by_strategy[3][0], by_strategy[4][0])
    written = tuned.candidates[tuned.best].persona
    assert written is not None and tuned.persona.system_prompt == written.system_prompt
    assert tuned.persona.description == written.description and tuned.persona.name == "judge-tuned"

    write(tuned, out, script.backend.spec, plan)
    assert load_persona(str(out)) == tuned.persona


def strategy_of(persona: Persona | None) -> int | None:
    found = STRATEGY.search(persona.system_prompt) if persona else None
    return int(found.group(1)) if found else None


def wilson(right: int, n: int) -> tuple[float, float]:
    z = 1.959963984540054
    p = right / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def header_fields(path: Path) -> dict[str, str]:
    fields = {}
    for line in path.read_text().splitlines():
        if line.startswith("# ") and ": " in line:
            key, _, value = line[2:].partition(": ")
            fields[key] = value
    return fields


def test_the_header_numbers_are_recomputed_from_the_calls(tmp_path: Path) -> None:
    # strategy 2 is right on the items whose number is not a multiple of 3; the baseline on every item
    script = Script(lambda k, q: k is None or (k == 2 and q % 3 != 0), malformed_proposals=1)
    plan = Plan(data_file(tmp_path, n=14), "jsonl", seed=2, candidates=2, limit=13)
    tuned = run(script, plan)
    out = tmp_path / "tuned.yaml"
    write(tuned, out, "scripted:test", plan)
    fields = header_fields(out)

    calls, replies = script.backend.calls, script.replies
    assert len(calls) == len(replies)
    judged = [(c, r) for c, r in zip(calls, replies, strict=True) if c.messages[0].content != PROPOSE_SYSTEM]
    n_train, n_test = len(tuned.split.train), len(tuned.split.test)
    assert (n_train, n_test) == (6, 7) and fields["split"].startswith("6 train / 7 test, disjoint")

    def right(pairs: list[tuple[Any, str]]) -> int:
        return sum(json.loads(r)["answer"] == gold_of(*questions(c.messages[1:2])) for c, r in pairs)

    winner = [(c, r) for c, r in judged[: 3 * n_train] if strategy(c.messages) == 2]
    baseline = [(c, r) for c, r in judged[: 3 * n_train] if strategy(c.messages) is None]
    measured = judged[3 * n_train :]
    train_right, test_right = right(winner), right(measured)
    assert fields["train accuracy"].startswith(f"{train_right / n_train:.3f} ({train_right}/{n_train}), NOT above")
    assert f"the no-persona baseline ({right(baseline) / n_train:.3f})" in fields["train accuracy"]
    low, high = wilson(test_right, n_test)
    assert fields["test accuracy"] == (
        f"{test_right / n_test:.3f} ({test_right}/{n_test}), Wilson 95% interval [{low:.3f}, {high:.3f}]"
    )
    prompt = sum(len(m.content.split()) for c in calls for m in c.messages)
    completion = sum(len(r.split()) for r in replies)
    proposals = len(calls) - len(judged)
    assert proposals == 3  # one malformed proposal, re-asked once
    assert fields["cost"] == (
        f"{len(calls)} calls, {prompt} prompt + {completion} completion tokens "
        f"(proposals {proposals}, selection {3 * n_train}, test {n_test} calls)"
    )
    assert fields["candidates"].startswith("2 proposed (0 rejected as malformed) and the no-persona baseline")
    assert fields["model"] == "scripted:test" and fields["seed"] == "2"
    assert fields["items"].startswith("13 with gold (limit 13)")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", fields["date"])
    assert yaml.safe_load(out.read_text()) == tuned.persona.model_dump(include={"name", "description", "system_prompt"})


def test_a_verdict_that_never_parses_counts_as_wrong_and_is_reported(tmp_path: Path) -> None:
    proposals = iter(range(1, 100))

    def reply(messages: Sequence[Message]) -> str:
        if messages[0].content == PROPOSE_SYSTEM:
            k = next(proposals)
            return json.dumps({"analysis": "x", "description": f"s{k}", "system_prompt": f"STRATEGY-{k}"})
        (q,) = questions(messages[1:2])
        if q == 0:
            return "I cannot decide."
        return json.dumps({"reasoning": "ok", "answer": gold_of(q), "confidence": 90})

    backend = ScriptedBackend(reply)
    plan = Plan(data_file(tmp_path, n=6), "jsonl", seed=0, candidates=1)
    tuned = asyncio.run(tune(backend, plan))
    with_zero = "train" if any(i.id == "q0" for i in tuned.split.train) else "test"
    score = tuned.candidates[1].train if with_zero == "train" else tuned.test
    assert (score.right, score.failed, score.n) == (score.n - 1, 1, score.n)
    judged = [c for c in backend.calls if c.messages[0].content != PROPOSE_SYSTEM]
    asked_zero = [c for c in judged if questions(c.messages[1:2]) == {0}]
    assert len(asked_zero) == 3 * (2 if with_zero == "train" else 1)  # re-asked twice per judge, never a verdict


def agora(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_:
        main(list(args))
    captured = capsys.readouterr()
    return int(exit_.value.code or 0), captured.out, captured.err


def test_tune_through_the_openai_client_writes_a_persona_a_scenario_and_a_judge_use(
    tmp_path: Path, fake_server: FakeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    data = data_file(tmp_path, n=8)
    out = tmp_path / "personas" / "fake-tuned.yaml"
    args = ["tune", "--model", "openai:fake", "--base-url", fake_server.url, "--data", str(data), "--loader", "jsonl"]
    code, stdout, stderr = agora(capsys, *args, "--out", str(out), "--seed", "7", "--candidates", "2")
    assert code == 0, stderr
    fields = header_fields(out)
    assert fields["cost"].startswith(f"{len(fake_server.requests)} calls")
    assert fields["cost"].endswith(f"(proposals 2, selection {3 * 4}, test 4 calls)")
    assert fields["model"] == "openai:fake" and f"wrote {out}" in stdout
    persona = load_persona(str(out))
    assert persona.name == "fake-tuned" and "fake server" in persona.system_prompt

    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(
        yaml.safe_dump(
            {
                "name": "tuned",
                "data": {"loader": "jsonl", "path": str(data)},
                "judges": [{"persona": "personas/fake-tuned.yaml"}],
                "protocols": [{"kind": "direct_qa"}],
            }
        )
    )
    assert load_persona(load_scenario(scenario).judges[0].persona or "") == persona
    code, _, stderr = agora(capsys, "scenarios", str(scenario))
    assert code == 0, stderr

    replies = tmp_path / "replies.json"
    replies.write_text(json.dumps(['{"reasoning": "ok", "answer": "A", "confidence": 70}']))
    question = ["--question", "Q?", "--answer", "a", "--answer", "b"]
    code, stdout, stderr = agora(
        capsys, "judge", "--model", f"scripted:{replies}", *question, "--persona", str(out), "--json"
    )
    assert code == 0, stderr
    assert json.loads(stdout)["persona"] == "fake-tuned"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"--data": "missing.jsonl"}, "--data: {tmp}/missing.jsonl: no such file"),
        ({"--loader": "jsonlines"}, "--loader: unknown loader 'jsonlines'"),
        ({"--limit": "0"}, "--limit: must be at least 1, got 0"),
        ({"--limit": "1"}, "--data: {tmp}/items.jsonl: 1 item(s) with a gold answer (--limit 1)"),
        ({"--out": "items.jsonl/x.yaml"}, "--out: {tmp}/items.jsonl/x.yaml: {tmp}/items.jsonl is not a directory"),
        ({"--candidates": "0"}, "--candidates: must be at least 1, got 0"),
    ],
)
def test_bad_input_exits_2_with_one_line_naming_the_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: dict[str, str], expected: str
) -> None:
    data_file(tmp_path, n=4)
    flags = {"--model": "scripted", "--data": "items.jsonl", "--loader": "jsonl", "--out": "t.yaml"} | change
    paths = ("--data", "--out")
    args = [part for flag, value in flags.items() for part in (flag, str(tmp_path / value) if flag in paths else value)]
    code, _, stderr = agora(capsys, "tune", *args)
    lines = stderr.strip().splitlines()
    assert code == 2 and len(lines) == 1, stderr
    assert lines[0].startswith("agora: error: ConfigError: " + expected.format(tmp=tmp_path)), lines[0]
    assert not (tmp_path / "t.yaml").exists()


def test_too_few_items_with_gold_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "items.jsonl"
    data.write_text("".join(json.dumps(row) + "\n" for row in rows(1, ungraded=3)))
    args = ["tune", "--model", "scripted", "--data", str(data), "--loader", "jsonl", "--out", str(tmp_path / "t.yaml")]
    code, _, stderr = agora(capsys, *args)
    assert code == 2
    assert stderr.strip() == (
        f"agora: error: ConfigError: --data: {data}: 1 item(s) with a gold answer: "
        "tuning needs at least 2 (train and test)"
    )
