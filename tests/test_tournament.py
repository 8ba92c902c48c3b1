"""Tournaments: ``models.debaters`` with ``swap_sides``. Every item is argued under every assignment of the models to
the sides, exactly once; ratings are by model and recover known strengths; bad input is one line and exit 2."""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from agora.backends.base import Backend, backend
from agora.cli import main
from agora.metrics.measure import measure
from agora.protocols.assignment import consultancy_assignments, debate_assignments
from agora.runner.options import Options
from agora.runner.record import Record
from agora.runner.run import Run
from agora.scenarios import load_scenario
from agora.types import Completion, Message, OutputSchema, Settings, Usage
from tests.fixtures.scenarios import numbered_rows, refused, write_scenario

RANK = {"strong": 3, "middling": 2, "weak": 1}
"""The judge sides with the strongest debater it reads (``duel:NAME`` argues ``NAME argument.``)."""

N_ITEMS = 4


@backend("duel")
class DuelBackend(Backend):
    """A debater argues ``NAME argument.``; as a judge (asked for a verdict), it chooses the answer argued by the
    strongest name in the transcript, else answer A."""

    async def complete(
        self, messages: Sequence[Message], settings: Settings, schema: OutputSchema | None = None
    ) -> Completion:
        text = "\n".join(m.content for m in messages)
        if schema is None:
            reply = f"{self.model} argument."
        else:
            argued = re.findall(r"arguing for Answer ([A-Z])\):\n<data>\n(\w+) argument", text)
            best = max(argued, key=lambda pair: RANK.get(pair[1], 0), default=("A", ""))
            reply = json.dumps({"reasoning": "the stronger case", "answer": best[0], "confidence": 90})
        return Completion(text=reply, model=self.model, usage=Usage(prompt_tokens=len(text) // 4, completion_tokens=3))


@pytest.fixture(autouse=True)
def fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGORA_CACHE_DIR", str(tmp_path / "cache"))


def scenario(tmp_path: Path, rows: list[dict[str, Any]] | None = None, **changes: Any) -> Path:
    body = {
        "name": "tournament",
        "data": {"loader": "jsonl", "path": "items.jsonl"},
        "models": {"default": "duel:judge", "debaters": ["duel:strong", "duel:weak"]},
        "protocols": [
            {"kind": "debate", "rounds": 1, "swap_sides": True},
            {"kind": "consultancy", "rounds": 1, "swap_sides": True, "judge_questions": False},
            {"kind": "direct_qa", "name": "blind"},
        ],
        "concurrency": 3,
    }
    return write_scenario(tmp_path, body, rows or numbered_rows(N_ITEMS), name="t.yaml", **changes)


def run(path: Path, out: Path) -> Run:
    the_run = Run.create(load_scenario(path), Options(), out, path)
    asyncio.run(the_run.execute())
    return the_run


def by_protocol(records: list[Record], protocol: str) -> list[Record]:
    return [r for r in records if r.protocol == protocol]


def test_every_item_is_argued_under_every_assignment_exactly_once(tmp_path: Path) -> None:
    the_run = run(scenario(tmp_path), tmp_path / "run")
    records = list(the_run.store.records())
    assert the_run.total() == N_ITEMS * (2 + 4 + 1) == len(records) == len({r.key for r in records})
    assert {r.status for r in records} == {"ok"}
    items = [f"q{i}" for i in range(N_ITEMS)]
    assert {r.key for r in by_protocol(records, "debate")} == {
        f"debate/{i}@{label}" for i in items for label in ("0A-1B", "1A-0B")
    }
    assert {r.key for r in by_protocol(records, "consultancy")} == {
        f"consultancy/{i}@{label}" for i in items for label in ("0A", "0B", "1A", "1B")
    }
    assert {r.key for r in by_protocol(records, "blind")} == {f"blind/{i}" for i in items}
    for protocol in ("debate", "consultancy"):
        argued = Counter(
            (r.models[speaker], side == r.gold)
            for r in by_protocol(records, protocol)
            for speaker, side in r.sides.items()
        )
        # each model argues the right and the wrong answer equally often
        assert argued == {(m, right): N_ITEMS for m in ("duel:strong", "duel:weak") for right in (True, False)}
    swapped = next(r for r in records if r.key == "debate/q0@1A-0B")
    assert swapped.models == {"debater_a": "duel:weak", "debater_b": "duel:strong"}
    assert [t.text for t in swapped.transcript] == ["weak argument.", "strong argument."]
    assert swapped.decision is not None and swapped.decision.outcome == 1  # the judge followed the strong debater
    lines = [json.loads(line) for line in (tmp_path / "run" / "results.jsonl").read_text().splitlines()]
    assert {line["key"]: line["assignment"] for line in lines}["consultancy/q1@1B"] == "1B"


def test_ratings_are_by_model_and_recover_known_strengths(tmp_path: Path) -> None:
    debaters = ["duel:weak", "duel:strong", "duel:middling"]
    path = scenario(
        tmp_path,
        numbered_rows(6),
        models={"default": "duel:judge", "debaters": debaters},
        protocols=[{"kind": "debate", "rounds": 1, "swap_sides": True}],
    )
    the_run = run(path, tmp_path / "run")
    records = list(the_run.store.records())
    assert len(records) == 6 * 6  # every ordered pair of three models
    assert Counter(r.assignment for r in records) == {a.label: 6 for a in debate_assignments(3, 2)}
    ratings = measure(the_run.store).ratings
    assert [r.player for r in ratings] == ["duel:strong", "duel:middling", "duel:weak"]
    strong, middling, weak = ratings
    assert strong.matches == middling.matches == weak.matches == 6 * 4  # each model plays 4 of the 6 pairings
    assert strong.elo.low is not None and weak.elo.high is not None and strong.elo.low > weak.elo.high


def test_one_debater_model_swaps_the_sides_and_a_consultant_argues_each_answer(tmp_path: Path) -> None:
    path = scenario(tmp_path, models={"default": "duel:strong"})
    the_run = run(path, tmp_path / "run")
    records = list(the_run.store.records())
    debate = sorted(by_protocol(records, "debate"), key=lambda r: r.key)
    assert [r.key for r in debate[:2]] == ["debate/q0@0A-0B", "debate/q0@0B-0A"]
    assert [r.sides for r in debate[:2]] == [{"debater_a": 0, "debater_b": 1}, {"debater_a": 1, "debater_b": 0}]
    consultancy = by_protocol(records, "consultancy")
    assert Counter(r.sides["consultant"] for r in consultancy) == {0: N_ITEMS, 1: N_ITEMS}
    assert {r.models["consultant"] for r in consultancy} == {"duel:strong"}


def test_an_item_a_tournament_cannot_assign_is_an_error_record_and_the_others_run(tmp_path: Path) -> None:
    rows = [*numbered_rows(2), {"id": "three", "question": "Which?", "answers": ["x", "y", "z"], "gold": 2}]
    path = scenario(tmp_path, rows, protocols=[{"kind": "debate", "rounds": 1, "swap_sides": True}])
    the_run = run(path, tmp_path / "run")
    records = {r.key: r for r in the_run.store.records()}
    assert len(records) == 2 * 2 + 1
    failed = records["debate/three"]
    assert failed.status == "error" and "2 debater models cannot argue 3 answers" in (failed.error or "")
    assert all(r.status == "ok" for key, r in records.items() if key != "debate/three")


def test_resume_runs_only_the_assignments_without_a_record(tmp_path: Path) -> None:
    path = scenario(tmp_path)
    first = Run.create(load_scenario(path), Options(), tmp_path / "run", path)

    def stop_after_five(record: Record, tally: Any) -> None:
        if tally.ok >= 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        asyncio.run(first.execute(stop_after_five))
    done = {r.key for r in first.store.records()}
    first.close()
    again = Run.open(tmp_path / "run")
    tally = asyncio.run(again.execute())
    records = [r.key for r in again.store.records()]
    assert tally.skipped == len(done) and tally.ok == again.total() - len(done)
    assert len(records) == len(set(records)) == again.total()


def test_assignments_balance_models_and_sides() -> None:
    three = debate_assignments(3, 2)
    assert len(three) == 6 and len({(a.models, a.sides) for a in three}) == 6
    assert all(a.sides == (0, 1) and a.models[0] != a.models[1] for a in three)
    assert [a.label for a in debate_assignments(1, 2)] == ["0A-0B", "0B-0A"]
    assert [a.label for a in consultancy_assignments(2, 2)] == ["0A", "0B", "1A", "1B"]


BAD = [
    ({"models": {"debaters": ["duel:a"]}}, "models.debaters: a tournament needs at least two debater models, got 1"),
    (
        {"protocols": [{"kind": "direct_qa", "swap_sides": True}]},
        "protocols.0: swap_sides: protocol kind 'direct_qa' cannot swap sides",
    ),
    (
        {"protocols": [{"kind": "debate", "rounds": 1}]},
        "protocols.0.swap_sides: models.debaters makes a tournament; set swap_sides: true on 'debate'",
    ),
    ({"protocols": [{"kind": "courtroom"}]}, "protocols.0.kind: a courtroom takes no part in a tournament"),
    (
        {"protocols": [{"kind": "consultancy", "open": True, "swap_sides": True}]},
        "protocols.0: swap_sides: an open protocol lets its speaker choose a side",
    ),
    (
        {"models": {"debaters": ["duel:a", "duel:b"], "consultant": "duel:c"}},
        "models: consultant: a tournament's consultants are models.debaters",
    ),
]


@pytest.mark.parametrize(("change", "message"), BAD, ids=[m.split(":")[0] for _, m in BAD])
def test_bad_tournaments_are_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: dict[str, Any], message: str
) -> None:
    path = scenario(tmp_path, **change)
    line = refused(path, tmp_path / "run", capsys)
    assert line.startswith(f"agora: error: ConfigError: {path}: {message}"), line


def cli(*args: str) -> int | str | None:
    """The exit code of ``agora ARGS``."""
    with pytest.raises(SystemExit) as exit_:
        main(list(args))
    return exit_.value.code


def test_agora_run_and_report_of_a_tournament(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = str(tmp_path / "run")
    assert cli("run", str(scenario(tmp_path)), "--out", run_dir) == 0
    capsys.readouterr()
    assert cli("report", run_dir) == 0
    markdown = capsys.readouterr().out
    assert "Side wins by model" in markdown and "Judge accuracy by matchup" in markdown
    ratings = markdown.split("## Ratings", 1)[1].split("##", 1)[0]
    assert ratings.index("duel:strong") < ratings.index("duel:weak") and "debater_a" not in ratings
    assert cli("report", run_dir, "--format", "html", "--out", str(tmp_path / "report.html")) == 0
    page = (tmp_path / "report.html").read_text()
    assert "debate 1A-0B" in page and "played by debater_a: duel:weak · debater_b: duel:strong" in page
