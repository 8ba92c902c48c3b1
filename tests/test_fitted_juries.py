"""Dawid–Skene juries from scenario files: a provisional majority live, then one fit over the whole run's verdicts
when it finishes, stored beside the live decisions and read by the report; without crowd-kit, one line and exit 2
before any model call."""

from __future__ import annotations

import asyncio
import builtins
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from agora.aggregation.fitting import read_fits
from agora.aggregation.reliability import fit_dawid_skene
from agora.aggregation.voting import PROVISIONAL, get_rule
from agora.metrics.measure import FITTED
from agora.reports import read_run, run_html
from agora.runner.options import Options
from agora.runner.record import Record
from agora.runner.run import Run
from agora.runner.store import RunStore
from agora.scenarios import load_scenario
from agora.types import Verdict
from tests.fixtures import hashed
from tests.fixtures.runs import execute
from tests.fixtures.scenarios import numbered_rows, write_scenario
from tests.fixtures.verdicts import vote
from tests.test_reports import agora, md_table, row

pytest.importorskip("crowdkit", reason="Dawid-Skene fitting needs crowd-kit: pip install 'agora[stats]'")

N_ITEMS = 12
JUDGES = ["mainstream", "skeptical", "contrarian"]
PROTOCOLS = [{"kind": "direct_qa", "name": "blind"}, {"kind": "consultancy", "rounds": 1}]
RELIABILITY = "Juror reliability (Dawid–Skene)"


@pytest.fixture(autouse=True)
def fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hashed.reset()
    monkeypatch.setenv("AGORA_CACHE_DIR", str(tmp_path / "cache"))


def scenario(tmp_path: Path, **jury: Any) -> Path:
    body = {
        "name": "ds",
        "data": {"loader": "jsonl", "path": "items.jsonl"},
        "models": {"default": "hashed:m"},
        "judges": [{"persona": p} for p in JUDGES],
        "jury": {"rule": "dawid_skene", **jury},
        "protocols": PROTOCOLS,
        "concurrency": 3,
    }
    return write_scenario(tmp_path, body, numbered_rows(N_ITEMS), name="ds.yaml")


def run(tmp_path: Path, name: str = "run", stop_after: int | None = None) -> Path:
    path = scenario(tmp_path)
    execute(Run.create(load_scenario(path), Options(), tmp_path / name, path), stop_after=stop_after)
    return tmp_path / name


def ballots(records: list[Record], protocol: str) -> list[tuple[Record, list[Verdict]]]:
    """The test's own reading: each ok record of ``protocol`` with each judge's last verdict."""
    return [
        (r, list({v.judge: v for v in r.verdicts}.values()))
        for r in records
        if r.protocol == protocol and r.status == "ok"
    ]


def expected_outcome(posterior: np.ndarray) -> int | str:
    top = np.flatnonzero(np.isclose(posterior, posterior.max()))
    return int(top[0]) if len(top) == 1 else "inconclusive"


def test_the_rule_without_a_model_is_a_provisional_majority() -> None:
    rule = get_rule("dawid_skene")
    decision = rule([vote("a", 0), vote("b", 1), vote("c", 1)], 2)
    assert (decision.outcome, decision.votes, decision.rule) == (1, [1, 2], PROVISIONAL)
    assert rule([vote("a", 0), vote("b", 1)], 2).outcome == "inconclusive"  # no majority, no pick


def test_a_finished_run_stores_one_fit_per_protocol_over_all_its_items(tmp_path: Path) -> None:
    directory = run(tmp_path)
    store = RunStore(directory)
    records = list(store.records())
    assert len(records) == N_ITEMS * len(PROTOCOLS) and {r.status for r in records} == {"ok"}
    majority = get_rule("majority")
    for r in records:  # live: the provisional majority, and it says so
        assert r.decision is not None and r.decision.rule == PROVISIONAL
        assert r.decision.outcome == majority(list({v.judge: v for v in r.verdicts}.values()), 2).outcome
    assert len(store.fits()) == len(PROTOCOLS)
    fits = {fit.protocol: fit for fit in read_fits(store)}
    assert set(fits) == {"blind", "consultancy"}
    for protocol, fit in fits.items():
        seen = ballots(records, protocol)
        model = fit_dawid_skene([b for _, b in seen], 2)  # unsupervised: gold is never shown to the fit
        assert fit.n_answers == 2 and fit.accuracy == pytest.approx(model.accuracy())
        assert set(fit.decisions) == {r.key for r, _ in seen}
        for (r, _), posterior in zip(seen, model.posteriors, strict=True):
            fitted = fit.decisions[r.key]
            assert fitted.outcome == expected_outcome(posterior) and fitted.rule == "dawid_skene"
            assert fitted.votes == pytest.approx(posterior.tolist())
    exported = [json.loads(line) for line in (directory / "results.jsonl").read_text().splitlines()]
    decisions = {key: d for fit in fits.values() for key, d in fit.decisions.items()}
    assert len(exported) == len(records)
    for line in exported:  # the fitted decision beside the live one
        assert line["decision"]["rule"] == PROVISIONAL
        assert line["fitted_decision"] == decisions[line["key"]].model_dump(mode="json")


def test_the_report_shows_the_fitted_decision_from_the_store_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = run(tmp_path)
    store = RunStore(directory)
    fits = {fit.protocol: fit for fit in read_fits(store)}
    gold = {r.key: r.gold for r in store.records()}
    calls = sum(hashed.calls.values())
    monkeypatch.setitem(sys.modules, "crowdkit", None)  # the stored fit is read, not made again
    code, out, err = agora(capsys, "report", str(directory))
    assert code == 0 and err == "" and sum(hashed.calls.values()) == calls
    headline = md_table(out, "Headline")
    for protocol, fit in fits.items():
        line = row(headline, protocol=protocol, judge=FITTED)
        right = [d.outcome == gold[key] for key, d in fit.decisions.items()]
        assert line["n"] == str(N_ITEMS)
        assert line["accuracy [95% CI]"].startswith(f"{100 * sum(right) / len(right):.1f}% ")
        assert row(headline, protocol=protocol, judge="decision")["n"] == str(N_ITEMS)
    reliability = md_table(out, RELIABILITY)
    assert len(reliability) == len(PROTOCOLS) * len(JUDGES)
    for protocol, fit in fits.items():
        for juror, accuracy in fit.accuracy.items():
            line = row(reliability, protocol=protocol, juror=juror)
            assert line["estimated accuracy"] == f"{100 * accuracy:.1f}%" and line["items"] == str(N_ITEMS)
    assert "fitted when the run finished" in out
    page = run_html(read_run(directory))
    assert f">{RELIABILITY}</h2>" in page and page.count("<strong>fitted decision:</strong>") == N_ITEMS * len(
        PROTOCOLS
    )


def test_a_partial_run_is_fitted_for_its_report_and_for_good_when_resumed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = run(tmp_path, stop_after=8)
    store = RunStore(directory)
    recorded = list(store.records())
    assert store.fits() == {} and 8 <= len(recorded) < N_ITEMS * len(PROTOCOLS)
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(sys.modules, "crowdkit", None)
        code, out, _ = agora(capsys, "report", str(directory))
    assert code == 0 and "pip install 'agora[stats]'" in out
    assert not [r for r in md_table(out, "Headline") if r["judge"] == FITTED]
    code, out, _ = agora(capsys, "report", str(directory))
    assert code == 0 and "fitted for this report on the" in out
    decided = sum(int(r["n"]) for r in md_table(out, "Headline") if r["judge"] == FITTED)
    assert decided == len(recorded)
    assert store.fits() == {}  # a report writes nothing

    resumed = Run.open(directory)
    asyncio.run(resumed.execute())
    resumed.close()
    fits = read_fits(RunStore(directory))
    assert sum(len(fit.decisions) for fit in fits) == N_ITEMS * len(PROTOCOLS)


def hide_crowdkit(monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    if how == "sys.modules":
        monkeypatch.setitem(sys.modules, "crowdkit", None)
        return
    real = builtins.__import__

    def refuse(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.partition(".")[0] == "crowdkit":
            raise ImportError(f"No module named {name!r}")
        return real(name, *args, **kwargs)

    for module in [m for m in sys.modules if m.partition(".")[0] == "crowdkit"]:
        monkeypatch.delitem(sys.modules, module)
    monkeypatch.setattr(builtins, "__import__", refuse)


@pytest.mark.parametrize("how", ["sys.modules", "__import__"])
def test_without_crowd_kit_a_dawid_skene_scenario_is_one_line_and_exit_2_before_any_call(
    how: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = scenario(tmp_path)
    hide_crowdkit(monkeypatch, how)
    code, out, err = agora(capsys, "run", str(path), "--out", str(tmp_path / "run"))
    assert code == 2 and out == "" and not hashed.calls and not (tmp_path / "run").exists()
    (line,) = err.strip().splitlines()
    assert line.startswith(f"agora: error: ConfigError: {path}: jury: ") and "pip install 'agora[stats]'" in line


def test_a_scenario_cannot_give_the_model_itself(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = scenario(tmp_path, params={"model": {"mainstream": 0.9}})
    code, _, err = agora(capsys, "scenarios", str(path))
    assert code == 2 and not hashed.calls
    assert f"{path}: jury: rule 'dawid_skene': params.model must be a fitted Reliability" in err


def test_a_stored_fit_that_cannot_be_read_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    directory = run(tmp_path)
    store = RunStore(directory)
    store.put_fits({"blind:2": '{"protocol": "blind"}'})
    store.close()
    code, out, err = agora(capsys, "report", str(directory))
    (line,) = err.strip().splitlines()
    assert code == 2 and out == "" and f"{directory / 'run.sqlite'}: fit 'blind:2': n_answers: " in line
