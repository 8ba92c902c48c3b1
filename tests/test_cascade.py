"""Cascades: juries in stages, an item escalated only while the decision is unsure.

On the scripted backend: a confident stage stops the item (the later stages are never called), an unsure or
inconclusive one escalates, the last stage decides whatever its confidence, the decision names its stage. Scenario
validation: one line, exit 2. A run on the fake server whose report shows each stage's share, accuracy and cost.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from agora.agents.consultant import Consultant
from agora.agents.debater import Debater
from agora.agents.judge import QUESTION_PROMPT
from agora.agents.juror import Juror
from agora.aggregation.thresholds import Thresholds
from agora.backends.scripted import ScriptedBackend
from agora.cli import main
from agora.errors import ConfigError
from agora.methods import Direct
from agora.protocols import Cascade, Jury, Stage, consultancy, debate, direct_qa
from agora.reports import read_run, run_html
from agora.reports.viewer import protocol_block
from agora.runner.cache import ResponseCache
from agora.runner.options import Options
from agora.runner.record import Record
from agora.runner.run import Run
from agora.runner.study import Study
from agora.scenarios import load_scenario
from agora.state import View
from agora.types import Decision, Message, Verdict
from tests.fixtures import fake_server as fake
from tests.fixtures.letters import LetterFirst
from tests.fixtures.scenarios import numbered_rows, write_scenario

MARKER = "EVIDENCE-MARK-3312"
INPUTS = {"question": "Which is right?", "answers": ["first", "second"], "evidence": f"Log {MARKER}."}


def reply(answer: str, confidence: float) -> str:
    return json.dumps({"reasoning": f"I pick {answer}.", "answer": answer, "confidence": confidence})


def stage(accept: float, *votes: tuple[str, float], prefix: str = "s") -> tuple[Stage, list[ScriptedBackend]]:
    """A stage of jurors ``{prefix}_1``… each voting ``(answer, confidence)``; and their backends."""
    backends = [ScriptedBackend(lambda m, v=v: reply(*v), model=f"{prefix}_{i}") for i, v in enumerate(votes, 1)]
    jurors = [Juror(b, name=f"{prefix}_{i}") for i, b in enumerate(backends, 1)]
    return Stage(Jury(jurors), accept), backends


def calls(backends: Sequence[ScriptedBackend]) -> int:
    return sum(len(b.calls) for b in backends)


# -- the cascade as a graph


@pytest.mark.parametrize(
    ("confidence", "decided", "deep_calls"),
    [(90, (1, 1, 90), 0), (80, (1, 1, 80), 0), (79, (0, 2, 55), 2), (20, (0, 2, 55), 2)],
    ids=["sure", "at the threshold", "just below", "unsure"],
)
async def test_a_sure_stage_decides_and_an_unsure_one_escalates(
    confidence: float, decided: tuple[int, int, float], deep_calls: int
) -> None:
    first, quick = stage(80, ("B", confidence), prefix="quick")
    second, deep = stage(0, ("A", 60), ("A", 50), prefix="deep")
    state = await direct_qa(Cascade([first, second])).ainvoke(INPUTS)
    decision = state["decision"]
    assert (decision.outcome, decision.stage, decision.confidence) == decided
    assert calls(quick) == 1 and calls(deep) == deep_calls  # a stage not reached is never called
    assert sorted(v.judge for v in state["verdicts"]) == ["deep_1", "deep_2", "quick_1"][2 - deep_calls :]
    assert decision.dissent == []  # stage 2's decision counts stage 2's jurors only (quick voted B)


async def test_an_inconclusive_stage_escalates_however_sure_its_jurors_are() -> None:
    first, quick = stage(50, ("A", 99), ("B", 99), prefix="quick")
    second, deep = stage(0, ("B", 70), prefix="deep")
    decision = (await direct_qa(Cascade([first, second])).ainvoke(INPUTS))["decision"]
    assert (decision.outcome, decision.stage) == (1, 2) and calls(quick) == 2 and calls(deep) == 1


async def test_the_last_stage_decides_whatever_its_confidence_even_inconclusively() -> None:
    one, a = stage(90, ("A", 60), prefix="one")
    two, b = stage(90, ("B", 70), prefix="two")
    three, c = stage(90, ("A", 10), ("B", 10), prefix="three")
    state = await direct_qa(Cascade([one, two, three])).ainvoke(INPUTS)
    assert (state["decision"].outcome, state["decision"].stage) == ("inconclusive", 3)
    assert (calls(a), calls(b), calls(c)) == (1, 1, 2) and len(state["verdicts"]) == 4
    sure, _ = stage(90, ("B", 5), prefix="sure")
    decision = (await direct_qa(Cascade([stage(90, ("A", 60), prefix="one")[0], sure])).ainvoke(INPUTS))["decision"]
    assert (decision.outcome, decision.stage, decision.confidence) == (1, 2, 5)


async def test_rule_on_decides_outside_a_graph_as_the_graph_does() -> None:
    first, quick = stage(80, ("B", 70), prefix="quick")
    second, deep = stage(0, ("A", 60), ("B", 65), ("A", 62), prefix="deep")
    decision = await Cascade([first, second]).rule_on(View(INPUTS["question"], tuple(INPUTS["answers"])))
    assert (decision.outcome, decision.stage, decision.confidence) == (0, 2, 61)
    assert (calls(quick), calls(deep)) == (1, 3)


async def test_every_stage_reads_what_the_protocol_grants() -> None:
    first, quick = stage(80, ("A", 10), prefix="quick")
    second, deep = stage(0, ("A", 60), prefix="deep")
    await direct_qa(Cascade([first, second]), oracle=True).ainvoke(INPUTS)
    assert all(MARKER in call.messages[-1].content for b in [*quick, *deep] for call in b.calls)
    talkers = [Debater(ScriptedBackend(lambda m: "My argument."), name=f"debater_{x}") for x in "ab"]
    first, quick = stage(80, ("A", 10), prefix="quick")
    second, deep = stage(0, ("A", 60), prefix="deep")
    state = await debate(talkers, Cascade([first, second]), rounds=1).ainvoke(INPUTS)
    assert state["decision"].stage == 2 and len(state["transcript"]) == 2
    prompts = [call.messages[-1].content for b in [*quick, *deep] for call in b.calls]
    assert len(prompts) == 2 and all(MARKER not in p and "My argument." in p for p in prompts)


async def test_consultancy_questions_come_from_the_first_stage_foreperson() -> None:
    def quick_reply(messages: Sequence[Message]) -> str:
        return "Why that answer?" if messages[-1].content.endswith(QUESTION_PROMPT) else reply("A", 95)

    quick = ScriptedBackend(quick_reply, model="quick")
    deep = ScriptedBackend(lambda m: reply("B", 60), model="deep")
    cascade = Cascade([Stage(Jury([Juror(quick, name="quick")]), 90), Stage(Jury([Juror(deep, name="deep")]), 0)])
    assert cascade.name == "quick"
    consultant = Consultant(ScriptedBackend(lambda m: "Trust me."), name="consultant")
    state = await consultancy(consultant, cascade, rounds=2).ainvoke(INPUTS)
    asked = [t for t in state["transcript"] if t.role == "judge"]
    assert [t.speaker for t in asked] == ["quick"] and asked[0].text == "Why that answer?"
    assert state["decision"].stage == 1 and not deep.calls


@pytest.mark.parametrize(("probability", "stage_"), [(0.9, 1), (0.8, 1), (0.7, 2)])
async def test_a_stage_whose_jurors_are_below_its_min_probability_escalates(probability: float, stage_: int) -> None:
    quick = Juror(LetterFirst(probability), name="quick", form=Direct(reasoning=False), logprobs=True)
    first = Stage(Jury([quick], policy=Thresholds(min_probability=0.8)), 0)
    second, deep = stage(0, ("B", 60), prefix="deep")
    state = await direct_qa(Cascade([first, second])).ainvoke(INPUTS)
    decision = state["decision"]
    assert decision.stage == stage_ and decision.outcome == (0 if stage_ == 1 else 1)
    assert calls(deep) == stage_ - 1
    quick_verdict = next(v for v in state["verdicts"] if v.judge == "quick")
    assert quick_verdict.probability == pytest.approx(probability)


def test_a_cascade_without_stages_or_with_a_juror_in_two_stages_is_refused() -> None:
    with pytest.raises(ConfigError, match="at least one stage"):
        Cascade([])
    shared = Juror(ScriptedBackend(lambda m: reply("A", 50)), name="same")
    with pytest.raises(ConfigError, match="juror 'same' sits in two stages"):
        Cascade([Stage(Jury([shared]), 50), Stage(Jury([shared]), 0)])
    with pytest.raises(ConfigError, match="accept_confidence must be between 0 and 100, got 101"):
        Stage(Jury([shared]), 101)


# -- scenarios


def scenario_body(**changes: Any) -> dict[str, Any]:
    body = {
        "name": "cascade",
        "data": {"loader": "jsonl", "path": "items.jsonl"},
        "judges": [{"name": "quick"}, {"name": "deep_a", "persona": "mainstream"}, {"persona": "skeptical"}],
        "cascade": [{"judges": ["quick"], "accept_confidence": 80}, {"judges": ["deep_a", "skeptical"]}],
        "protocols": [{"kind": "direct_qa"}],
    }
    return body | changes


BAD = [
    (
        [{"judges": ["quick"], "accept_confidence": 80}, {"judges": ["deep_b", "skeptical"]}],
        "cascade.1.judges: unknown judge 'deep_b' (did you mean 'deep_a'?)",
    ),
    (
        [{"judges": ["quick"], "accept_confidence": 80}, {"judges": ["nobody"]}],
        "cascade.1.judges: unknown judge 'nobody' (known: quick, deep_a, skeptical)",
    ),
    (
        [{"judges": ["quick"], "accept_confidence": 80}, {"judges": ["deep_a"]}],
        "cascade: judge 'skeptical' sits in no stage (list it in one)",
    ),
    (
        [{"judges": ["quick", "deep_a"], "accept_confidence": 80}, {"judges": ["deep_a", "skeptical"]}],
        "cascade.1.judges: judge 'deep_a' already sits in cascade.0",
    ),
    (
        [{"judges": ["quick"]}, {"judges": ["deep_a", "skeptical"]}],
        "cascade.0.accept_confidence: required for every stage but the last (or its min_probability)",
    ),
    (
        [{"judges": ["quick"], "min_probability": 80}, {"judges": ["deep_a", "skeptical"]}],
        "cascade.0.min_probability: Input should be less than or equal to 1",
    ),
    (
        [{"judges": ["quick"], "accept_confidence": 101}, {"judges": ["deep_a", "skeptical"]}],
        "cascade.0.accept_confidence: Input should be less than or equal to 100",
    ),
    ([{"judges": [], "accept_confidence": 80}], "cascade.0.judges: List should have at least 1 item"),
    ([], "cascade: List should have at least 1 item"),
]


@pytest.mark.parametrize(("cascade", "message"), BAD, ids=[m for _, m in BAD])
def test_a_bad_cascade_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cascade: list[dict[str, Any]], message: str
) -> None:
    path = write_scenario(tmp_path, scenario_body(cascade=cascade), numbered_rows(2), name="c.yaml")
    for command in (["scenarios", str(path)], ["run", str(path), "--out", str(tmp_path / "run")]):
        with pytest.raises(SystemExit) as exit_:
            main(command)
        assert exit_.value.code == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1, lines
        assert re.match(rf"agora: error: (ConfigError: )?{re.escape(f'{path}: {message}')}", lines[0]), lines[0]
    assert not (tmp_path / "run").exists()


def test_a_stage_that_can_never_reach_the_quorum_and_a_fitted_jury_are_refused(tmp_path: Path) -> None:
    body = scenario_body(jury={"quorum": 2})
    with pytest.raises(ConfigError, match=r"cascade\.0\.judges: 1 judge\(s\) can never reach jury.quorum 2"):
        load_scenario(write_scenario(tmp_path, body, numbered_rows(2), name="q.yaml"))
    pytest.importorskip("crowdkit")
    body = scenario_body(jury={"rule": "dawid_skene"})
    with pytest.raises(ConfigError, match="cascade: a jury fitted after its run"):
        load_scenario(write_scenario(tmp_path, body, numbered_rows(2), name="f.yaml"))


def test_a_scenario_stage_may_stop_items_by_token_probability_alone(tmp_path: Path) -> None:
    body = scenario_body(
        cascade=[{"judges": ["quick"], "min_probability": 0.8}, {"judges": ["deep_a", "skeptical"]}],
        jury={"min_confidence": 10},
    )
    body["judges"][0] |= {"reasoning": False, "logprobs": True}
    study = Study(load_scenario(write_scenario(tmp_path, body, numbered_rows(2))), cache=ResponseCache(tmp_path / "c"))
    seat = study.seat
    assert isinstance(seat, Cascade)
    first, second = (s.jury.policy for s in seat.stages)
    assert (first.min_probability, first.min_confidence) == (0.8, 10)  # the stage's own, over the jury's policy
    assert (second.min_probability, second.min_confidence) == (0, 10)
    assert seat.stages[0].accept_confidence == 0


def test_a_scenario_cascade_seats_one_jury_per_stage(tmp_path: Path) -> None:
    body = scenario_body(jury={"rule": "weighted", "checks": ["position"]})
    body["judges"][0] |= {"weight": 2, "samples": 3}
    study = Study(load_scenario(write_scenario(tmp_path, body, numbered_rows(2))), cache=ResponseCache(tmp_path / "c"))
    seat = study.seat
    assert isinstance(seat, Cascade)
    assert [[j.name for j in s.jury.jurors] for s in seat.stages] == [["quick"], ["deep_a", "skeptical"]]
    assert seat.stages[0].accept_confidence == 80
    assert [j.name for j in seat.jurors] == ["quick", "deep_a", "skeptical"]  # what probes measure
    assert all(s.jury.checks == ["position"] for s in seat.stages)
    quick = seat.stages[0].jury.jurors[0]
    assert isinstance(quick, Juror) and (quick.weight, quick.samples) == (2, 3)


# -- a run on the fake server, and its report

N_ITEMS = 6
SURE_ITEMS = 3  # quick is sure (90) of q0..q2, unsure (40) of the rest; it always says A
ACCEPT = 80


def scripted_replies(monkeypatch: pytest.MonkeyPatch) -> dict[tuple[str, int], list[int]]:
    """Script the fake server's verdicts, and book each call's tokens as the server bills them: (model, item) →
    [calls, tokens]. ``quick`` says A, at 90 on the first ``SURE_ITEMS`` items and 40 after; ``deep`` gives the gold
    answer (gold alternates 0, 1) at 60."""
    books: dict[tuple[str, int], list[int]] = defaultdict(lambda: [0, 0])
    original = fake.reply_text

    def reply_text(body: dict[str, Any]) -> str:
        value = json.loads(original(body))
        text = "\n".join(str(m.get("content")) for m in body["messages"])
        item = int(re.search(r"Question (\d+)\?", text).group(1))  # type: ignore[union-attr]
        model = str(body["model"])
        if model == "quick":
            value |= {"answer": "A", "confidence": 90 if item < SURE_ITEMS else 40}
        else:
            value |= {"answer": "AB"[item % 2], "confidence": 60}
        out = json.dumps(value)
        prompt = sum(len(str(m.get("content") or "")) for m in body["messages"]) // 4
        books[(model, item)][0] += 1
        books[(model, item)][1] += prompt + max(1, len(out) // 4)
        return out

    monkeypatch.setattr(fake, "reply_text", reply_text)
    return books


def cascade_run(tmp_path: Path, server: fake.FakeServer, **changes: Any) -> Path:
    body = scenario_body(
        models={"default": f"openai:deep@{server.url}"},
        judges=[
            {"name": "quick", "model": f"openai:quick@{server.url}"},
            {"name": "deep_a", "persona": "mainstream"},
            {"name": "deep_b", "persona": "skeptical"},
        ],
        cascade=[{"judges": ["quick"], "accept_confidence": ACCEPT}, {"judges": ["deep_a", "deep_b"]}],
        cache=False,
    )
    path = write_scenario(tmp_path, body | changes, numbered_rows(N_ITEMS), name="cascade.yaml")
    the_run = Run.create(load_scenario(path), Options(), tmp_path / "run", path)
    try:
        asyncio.run(the_run.execute())
    finally:
        the_run.close()
    return tmp_path / "run"


def md_table(text: str, title: str) -> list[dict[str, str]]:
    """The rows of the Markdown table under ``## title``, as dicts by column."""
    lines = text[text.index(f"## {title}\n") :].splitlines()[2:]
    block = lines[: lines.index("")]
    split = [[c.strip() for c in line.strip("|").split("|")] for line in block]
    return [dict(zip(split[0], row, strict=True)) for row in split[2:]]


def report(capsys: pytest.CaptureFixture[str], directory: Path) -> str:
    with pytest.raises(SystemExit) as exit_:
        main(["report", str(directory)])
    assert exit_.value.code == 0
    return capsys.readouterr().out


def test_a_cascade_run_reports_each_stage_share_accuracy_and_cost(
    tmp_path: Path, fake_server: fake.FakeServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AGORA_CACHE_DIR", str(tmp_path / "cache"))
    books = scripted_replies(monkeypatch)
    run = cascade_run(tmp_path, fake_server)

    sure, unsure = range(SURE_ITEMS), range(SURE_ITEMS, N_ITEMS)
    # deep was called on the unsure items only, once per deep juror
    assert {item for model, item in books if model == "deep"} == set(unsure)
    assert all(books[("deep", i)][0] == 2 for i in unsure) and all(books[("quick", i)][0] == 1 for i in range(6))
    records = {r.item: r for r in read_run(run).records}
    assert {r.decision.stage for r in records.values() if r.decision} == {1, 2}
    assert all(records[f"q{i}"].decision.stage == (1 if i in sure else 2) for i in range(N_ITEMS))  # type: ignore[union-attr]

    rows = md_table(report(capsys, run), "Cascade")
    assert [(r["stage"], r["judges"], r["reached"], r["decided"], r["share"]) for r in rows] == [
        ("1", "quick", "6", "3", "50.0%"),
        ("2", "deep_a, deep_b", "3", "3", "50.0%"),
    ]
    # quick says A: right on q0 and q2 (gold 0), wrong on q1; deep gives the gold answer
    assert rows[0]["accuracy [95% CI]"].startswith("66.7% [") and rows[1]["accuracy [95% CI]"].startswith("100.0%")
    quick_tokens = {i: books[("quick", i)][1] for i in range(N_ITEMS)}
    deep_tokens = sum(books[("deep", i)][1] for i in unsure)
    assert (rows[0]["calls / item"], rows[1]["calls / item"]) == ("1.0", "2.0")
    assert rows[0]["tokens / item"] == f"{sum(quick_tokens.values()) / N_ITEMS:.0f}"
    assert rows[1]["tokens / item"] == f"{deep_tokens / len(unsure):.0f}"
    assert (rows[0]["calls to decide"], rows[1]["calls to decide"]) == ("1.0", "3.0")
    assert rows[0]["tokens to decide"] == f"{sum(quick_tokens[i] for i in sure) / len(sure):.0f}"
    spent = sum(quick_tokens[i] for i in unsure) + deep_tokens
    assert rows[1]["tokens to decide"] == f"{spent / len(unsure):.0f}"

    page = run_html(read_run(run))
    assert 'id="cascade"' in page and page.count("cascade stage 1") == 3 and page.count("cascade stage 2") == 3


def test_a_run_without_a_cascade_has_no_cascade_section(
    tmp_path: Path, fake_server: fake.FakeServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AGORA_CACHE_DIR", str(tmp_path / "cache"))
    scripted_replies(monkeypatch)
    run = cascade_run(tmp_path, fake_server, cascade=None)
    assert all(r.decision and r.decision.stage is None for r in read_run(run).records)
    out = report(capsys, run)
    assert "## Headline" in out and "Cascade" not in out
    page = run_html(read_run(run))
    assert 'id="cascade"' not in page and "cascade stage" not in page


# -- the item view: checklists and verdict flags


def test_the_item_view_shows_the_checklist_and_each_verdicts_flags() -> None:
    checklist = ["Does it answer the question?", "Is it <b>concise</b>?"]
    verdicts = [
        Verdict(choice=0, confidence=80, reasoning="r", judge=f"j{i}", model="m", method="checklist",
                checklist=checklist, scores=[0.75, 0.25 * i], flags=["checklist-fallback"] if i else [])
        for i in range(2)
    ]  # fmt: skip
    decision = Decision(outcome=0, rule="majority", votes=[2, 0], stage=2)
    html = protocol_block(Record(key="p/q", item="q", protocol="p", status="ok", decision=decision, verdicts=verdicts))
    assert "checklist (2 questions; j0, j1)" in html
    assert "<li>Does it answer the question?</li><li>Is it &lt;b&gt;concise&lt;/b&gt;?</li>" in html
    assert "j0: A 0.75 / B 0; j1: A 0.75 / B 0.25" in html
    assert html.count('<th scope="col">flags</th>') == 1 and html.count("checklist-fallback") == 1
    assert "cascade stage 2" in html
    plain = protocol_block(Record(key="p/q", item="q", protocol="p", status="ok", verdicts=[verdicts[0]]))
    assert ">flags<" not in plain
