"""The runner on an in-process deterministic backend: records, errors, malformed rows, cache, resume, limits."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
from dataclasses import replace
from pathlib import Path

import pytest

from agora.cli import main
from agora.methods.form import verdict_schema
from agora.runner.cache import ResponseCache
from agora.runner.options import Options
from agora.runner.record import Record
from agora.runner.run import Run
from agora.runner.store import RunStore
from agora.scenarios import load_scenario
from agora.structured import output_schema
from agora.types import OutputSchema, Settings, system, user
from tests.fixtures import hashed
from tests.fixtures.scenarios import numbered_rows, write_scenario

N_ITEMS = 6


@pytest.fixture(autouse=True)
def fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hashed.reset()
    monkeypatch.setenv("AGORA_CACHE_DIR", str(tmp_path / "cache"))


def scenario_file(tmp_path: Path, rows: list[dict | str] | None = None, **changes: object) -> Path:
    body = {
        "name": "t",
        "data": {"loader": "jsonl", "path": "items.jsonl"},
        "models": {"default": "hashed:m"},
        "judges": [{"persona": "mainstream"}, {"persona": "skeptical"}],
        "protocols": [
            {"kind": "debate", "rounds": 1},
            {"kind": "consultancy", "rounds": 2},
            {"kind": "direct_qa", "name": "blind"},
        ],
        "concurrency": 3,
    }
    return write_scenario(tmp_path, body, rows or numbered_rows(N_ITEMS), name="t.yaml", **changes)


def run(path: Path, out: Path, **options: object) -> Run:
    the_run = Run.create(load_scenario(path), Options(**options), out, path)  # type: ignore[arg-type]
    asyncio.run(the_run.execute())
    return the_run


def comparable(records: list[Record]) -> dict[str, dict]:
    return {r.key: r.model_dump(exclude={"seconds", "usage"}) for r in records}


def test_every_task_ends_in_one_record_and_the_run_is_described(tmp_path: Path) -> None:
    the_run = run(scenario_file(tmp_path), tmp_path / "run")
    records = list(the_run.store.records())
    assert len(records) == N_ITEMS * 3 == len({r.key for r in records})
    assert {r.status for r in records} == {"ok"}
    debate = next(r for r in records if r.key == "debate/q1")
    assert [t.speaker for t in debate.transcript] == ["debater_a", "debater_b"]
    assert {v.persona for v in debate.verdicts} == {"mainstream", "skeptical"} and debate.decision is not None
    consult = next(r for r in records if r.key == "consultancy/q1")
    assert [t.role for t in consult.transcript].count("consultant") == 2  # the foreperson asked in between
    assert debate.gold == 1 and debate.usage["calls"] == 4
    lines = (tmp_path / "run" / "results.jsonl").read_text().splitlines()
    assert sorted(json.loads(line)["key"] for line in lines) == sorted(r.key for r in records)
    manifest = the_run.store.manifest()
    assert manifest["status"] == "finished" and manifest["counts"] == {"ok": N_ITEMS * 3}
    assert manifest["scenario_digest"] == load_scenario(tmp_path / "t.yaml").digest()
    assert manifest["versions"]["langgraph"] and manifest["models"] == {"hashed:m": None}
    assert len(list(the_run.store.items())) == N_ITEMS


def test_failures_are_error_records_and_malformed_rows_are_kept(tmp_path: Path) -> None:
    rows = [
        {"id": "ok", "question": "Fine?", "answers": ["a", "b"], "gold": 0},
        {"id": "bad", "question": "FAIL now?", "answers": ["a", "b"], "gold": 0},
        "{not json",
        {"id": "ok2", "question": "Also fine?", "answers": ["a", "b"], "gold": 1},
    ]
    path = scenario_file(tmp_path, rows, protocols=[{"kind": "direct_qa"}])
    store = run(path, tmp_path / "run").store
    by_key = {r.key: r for r in store.records()}
    assert set(by_key) == {"direct_qa/ok", "direct_qa/bad", "direct_qa/ok2"}
    # each juror failed and abstained, so the seat could not decide: the record says so instead of guessing
    assert by_key["direct_qa/bad"].decision.outcome == "inconclusive"  # type: ignore[union-attr]
    assert all(v.error and "FAIL" in v.error for v in by_key["direct_qa/bad"].verdicts)
    assert [m.source for m in store.malformed()] == ["items.jsonl:3"]


def test_a_task_that_fails_outright_is_an_error_record_and_exit_1(tmp_path: Path, capsys) -> None:
    rows = [{"id": "a", "question": "Q?", "answers": ["x", "y"], "gold": 0},
            {"id": "b", "question": "FAIL?", "answers": ["x", "y"], "gold": 0}]  # fmt: skip
    path = scenario_file(tmp_path, rows, protocols=[{"kind": "debate", "rounds": 1}])
    with pytest.raises(SystemExit) as exit_:
        main(["run", str(path), "--out", str(tmp_path / "run")])
    assert exit_.value.code == 1
    records = {r.key: r for r in RunStore(tmp_path / "run").records()}
    assert records["debate/b"].status == "error" and "FAIL" in (records["debate/b"].error or "")
    assert records["debate/a"].status == "ok"
    assert "debate" in capsys.readouterr().out


def test_a_second_run_is_served_from_the_cache(tmp_path: Path) -> None:
    path = scenario_file(tmp_path)
    first = run(path, tmp_path / "one")
    made = sum(hashed.calls.values())
    assert made == first.tally.calls > 0 and first.tally.cached == 0
    second = run(path, tmp_path / "two")
    assert sum(hashed.calls.values()) == made  # not one more call
    assert second.tally.calls == 0 and second.tally.cached == made
    assert comparable(list(second.store.records())) == comparable(list(first.store.records()))


def test_resume_does_only_what_is_missing_and_rebills_nothing(tmp_path: Path) -> None:
    path = scenario_file(tmp_path, protocols=[{"kind": "debate", "rounds": 2}, {"kind": "direct_qa"}])
    reference = run(path, tmp_path / "reference", model="hashed:ref")
    hashed.reset()

    the_run = Run.create(load_scenario(path), Options(), tmp_path / "run", path)
    stop_after = 4

    def interrupt(record: Record, tally: object) -> None:
        if len(list(the_run.store.records())) >= stop_after:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        asyncio.run(the_run.execute(interrupt))
    the_run.close()
    assert RunStore(tmp_path / "run").manifest()["status"] == "interrupted"

    resumed = Run.open(tmp_path / "run")
    asyncio.run(resumed.execute())
    records = list(resumed.store.records())
    assert len(records) == len({r.key for r in records}) == N_ITEMS * 2
    assert max(hashed.calls.values()) == 1  # no completed call was made twice
    expected = {k: {**v, "verdicts": [{**x, "model": "hashed:m"} for x in v["verdicts"]]}
                for k, v in comparable(list(reference.store.records())).items()}  # fmt: skip
    assert comparable(records) == expected
    assert resumed.store.manifest()["status"] == "finished"


def test_a_run_directory_is_not_reused(tmp_path: Path) -> None:
    path = scenario_file(tmp_path)
    run(path, tmp_path / "run")
    with pytest.raises(Exception, match="already holds a run; resume it with: agora resume"):
        run(path, tmp_path / "run")


def test_concurrency_bounds_the_tasks_in_flight(tmp_path: Path) -> None:
    rows = [{"id": f"s{i}", "question": f"SLOW {i}?", "answers": ["a", "b"], "gold": 0} for i in range(12)]
    path = scenario_file(tmp_path, rows, protocols=[{"kind": "direct_qa"}], judges=[{"name": "j"}])
    run(path, tmp_path / "run", concurrency=3)
    assert hashed.in_flight["max"] == 3
    hashed.reset()
    run(path, tmp_path / "run2", concurrency=5, model="hashed:other")
    assert hashed.in_flight["max"] == 5


def test_limit_and_seed_options(tmp_path: Path) -> None:
    path = scenario_file(tmp_path, protocols=[{"kind": "direct_qa"}])
    store = run(path, tmp_path / "run", limit=2, seed=5).store
    assert sorted(r.item for r in store.records()) == ["q0", "q1"]
    assert store.manifest()["seed"] == 5


def test_the_results_table_counts_an_undecided_item_as_not_right_as_the_report_does() -> None:
    from agora.runner.summary import summarize
    from agora.types import Decision, Verdict

    def one(item: str, choice: int | None) -> Record:
        verdict = Verdict(choice=choice, confidence=90, reasoning="r", judge="j", model="m", abstained=choice is None)
        outcome = "inconclusive" if choice is None else choice
        decision = Decision(outcome=outcome, rule="majority", votes=[0.0, 0.0])
        return Record(
            key=f"p/{item}", item=item, protocol="p", status="ok", gold=0, decision=decision, verdicts=[verdict]
        )

    rows, _ = summarize([one("a", 0), one("b", 1), one("c", None), one("d", 0)])
    judge = next(r for r in rows if r.judge == "j")
    assert (judge.n, judge.correct, judge.abstained) == (4, 2, 1)
    assert judge.accuracy == 0.5 and judge.coverage == 0.75


@pytest.mark.parametrize("schema", [None, output_schema(verdict_schema(2)), output_schema(verdict_schema(3, True))])
def test_cache_keys_stay_those_of_every_earlier_cache(schema: OutputSchema | None) -> None:
    """The key is built part by part for speed; it must stay the sha256 of the whole request's sorted JSON, or every
    cache written before would miss."""
    messages = [system('é "quoted"'), user("Question?\n")]
    settings = Settings(seed=3, stop=("x", "y"), logprobs=True, temperature=0.7, timeout=9)
    request = {
        "model": "openai:m",
        "messages": [[m.role, m.content] for m in messages],
        "settings": {k: v for k, v in dataclasses.asdict(settings).items() if k != "timeout"},
        "schema": [schema.name, schema.json_schema] if schema else None,
    }
    whole = hashlib.sha256(json.dumps(request, sort_keys=True, default=list).encode()).hexdigest()
    assert ResponseCache.key("openai:m", messages, settings, schema) == whole
    assert ResponseCache.key("openai:m", messages, replace(settings, seed=4), schema) != whole
