"""What a report shows beyond the headline: accuracy by item metadata and data source, the rate of each live-check
flag, and the verdicts stated with less confidence than a blind guess; computed from a run store, in both reports."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

pytest.importorskip("scipy", reason="the metrics need the 'report' extra: pip install 'agora[report]'")

from agora.items import Item
from agora.metrics import breakdown as breakdown_module
from agora.metrics.measure import measure
from agora.reports import read_run, run_html, run_markdown
from agora.runner.options import Options
from agora.runner.record import Record
from agora.runner.run import Run
from agora.runner.store import RunStore
from agora.scenarios import load_scenario
from agora.types import Decision, Verdict
from tests.fixtures import hashed
from tests.fixtures.scenarios import write_scenario
from tests.test_reports import md_table, row

# id, answers, gold, bias (None: no such field), judge x's choice and confidence, the decision's flags
ITEMS: list[tuple[str, int, int, str | None, int | None, float, list[str]]] = [
    ("llmbar/a", 2, 0, None, 0, 90, ["position-inconsistent"]),
    ("llmbar/b", 2, 1, None, 0, 40, ["master-key:1", "injection:answer:0", "injection:turn:debater_a"]),
    ("llmbar/c", 3, 2, None, 2, 30, []),
    ("ebb/l0", 2, 0, "length bias", 0, 50, ["unverified-quotes:debater_b"]),
    ("ebb/l1", 2, 1, "length bias", 0, 49, ["position-inconsistent", "low-confidence:x"]),
    ("ebb/c0", 2, 0, "concreteness", None, 10, ["quorum"]),
]


@pytest.fixture
def store(tmp_path: Path) -> RunStore:
    """A finished run of protocol ``qa`` on six items from two named sources (one with a bias field), and of
    ``debate`` on two of them."""
    (tmp_path / "run").mkdir()
    found = RunStore(tmp_path / "run", create=True)
    found.set_manifest(
        status="finished",
        scenario={
            "name": "b",
            "data": [{"name": "llmbar", "path": "llmbar.json"}, {"name": "ebb", "path": "ebb.json"}],
            "protocols": [{"name": "qa", "kind": "direct_qa"}, {"name": "debate", "kind": "debate"}],
        },
    )
    for ident, n, gold, bias, choice, confidence, flags in ITEMS:
        meta = {"constant": "same", "tags": ["x"], **({"bias": bias} if bias else {})}
        answers = tuple(f"answer {i}" for i in range(n))
        found.add_item(Item(id=ident, question="Q?", answers=answers, gold=gold, meta=meta))
        outcome = "inconclusive" if choice is None or "quorum" in flags else choice
        found.put(record(ident, "qa", gold, outcome, choice, confidence, flags, n))
    found.put(record("llmbar/a", "debate", 0, 0, 0, 80, [], 2))
    found.put(record("llmbar/b", "debate", 1, "inconclusive", 1, 80, ["position-inconsistent"], 2))
    return found


def record(
    item: str,
    protocol: str,
    gold: int,
    outcome: int | str,
    choice: int | None,
    confidence: float,
    flags: list[str],
    n: int,
) -> Record:
    verdict = Verdict(
        choice=choice, confidence=confidence, reasoning="r", judge="x", model="m", abstained=choice is None
    )
    decision = Decision(outcome=outcome, rule="majority", votes=[0.0] * n, flags=flags)  # type: ignore[arg-type]
    return Record(
        key=f"{protocol}/{item}", item=item, protocol=protocol, status="ok", gold=gold, decision=decision,
        verdicts=[verdict],
    )  # fmt: skip


def test_accuracy_is_broken_down_by_each_metadata_field_and_by_data_source(store: RunStore) -> None:
    found = {(b.by, b.value, b.protocol, b.judge): b.accuracy for b in measure(store).breakdown}
    assert {by for by, *_ in found} == {"data source", "bias"}  # one value only, or not text: left out
    llmbar = found[("data source", "llmbar", "qa", "x")]
    assert (llmbar.value, llmbar.n) == (pytest.approx(2 / 3), 3)
    assert found[("data source", "ebb", "qa", "x")].value == pytest.approx(1 / 3)  # the abstention is not right
    assert found[("bias", "length bias", "qa", "x")].value == pytest.approx(0.5)
    assert found[("bias", "length bias", "qa", "decision")].n == 2
    assert (found[("bias", "concreteness", "qa", "x")].value, found[("bias", "concreteness", "qa", "x")].n) == (0, 1)
    assert ("bias", "length bias", "debate", "x") not in found  # debate never saw a biased item
    assert found[("data source", "llmbar", "debate", "decision")].value == pytest.approx(0.5)
    assert llmbar.low is not None and llmbar.high is not None and llmbar.low <= 2 / 3 <= llmbar.high


def test_a_field_with_too_many_values_is_left_out(store: RunStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(breakdown_module, "MAX_VALUES", 1)
    assert measure(store).breakdown == ()


def test_flags_are_rates_per_check_and_protocol(store: RunStore) -> None:
    rates = {(f.protocol, f.check): f for f in measure(store).flags}
    expected = {("qa", "position-inconsistent"): 2, ("qa", "master-key"): 1, ("qa", "injection"): 1,
                ("qa", "unverified-quotes"): 1, ("qa", "low-confidence"): 1, ("qa", "quorum"): 1,
                ("debate", "position-inconsistent"): 1}  # fmt: skip
    assert {key: f.count for key, f in rates.items()} == expected
    assert [key for key in rates][:2] == [("qa", "position-inconsistent"), ("qa", "master-key")]  # first seen
    assert rates[("qa", "injection")].rate.value == pytest.approx(1 / 6) and rates[("qa", "injection")].rate.n == 6
    assert rates[("debate", "position-inconsistent")].rate.value == pytest.approx(1 / 2)


def test_verdicts_below_a_blind_guess_are_counted_per_judge(store: RunStore) -> None:
    below = {(b.protocol, b.judge): (b.below, b.n) for b in measure(store).below_guess}
    # qa: 40 and 49 of two answers and 30 of three are below a guess; 50 of two is not; the abstention has no choice
    assert below == {("qa", "x"): (3, 5), ("debate", "x"): (0, 2)}


def test_both_reports_show_the_three_tables(store: RunStore) -> None:
    report = read_run(store.directory)
    text = run_markdown(report)
    bias = md_table(text, "Accuracy by bias")
    assert row(bias, protocol="qa", judge="x", bias="length bias") == {
        "protocol": "qa", "judge": "x", "bias": "length bias", "accuracy [95% CI]": "50.0% [0.0, 100.0]", "n": "2"
    }  # fmt: skip
    sources = md_table(text, "Accuracy by data source")
    assert row(sources, protocol="qa", judge="x", **{"data source": "ebb"})["n"] == "3"
    flags = md_table(text, "Flags on the decisions")
    assert row(flags, protocol="qa", check="injection") == {
        "protocol": "qa", "check": "injection", "decisions flagged [95% CI]": "16.7% [0.0, 66.7]", "flagged": "1",
        "decisions": "6"
    }  # fmt: skip
    guess = md_table(text, "Confidence below a blind guess")
    assert row(guess, protocol="qa", judge="x") == {
        "protocol": "qa", "judge": "x", "below a guess": "3", "verdicts": "5", "share": "60.0%"
    }  # fmt: skip
    page = run_html(report)
    for title in ("Accuracy by bias", "Accuracy by data source", "Flags on the decisions",
                  "Confidence below a blind guess"):  # fmt: skip
        assert re.search(rf'<h2 id="[^"]+">{title}</h2>', page) and f'">{title}</a>' in page  # and in the nav
    assert "<td>length bias</td>" in page and '<td class="num">16.7% [0.0, 66.7]</td>' in page


def test_a_real_run_with_two_sources_and_a_live_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hashed.reset()
    monkeypatch.setenv("AGORA_CACHE_DIR", str(tmp_path / "cache"))
    rows = [{"id": f"q{i}", "question": f"Q {i}?", "answers": ["a", "b"], "gold": i % 2, "topic": f"t{i % 3}"}
            for i in range(9)]  # fmt: skip
    (tmp_path / "more.jsonl").write_text("".join(f'{{"id": "m{i}", "question": "M {i}?", "answers": ["a", "b"], '
                                                 f'"gold": {i % 2}}}\n' for i in range(4)))  # fmt: skip
    body = {
        "name": "two",
        "data": [
            {"loader": "jsonl", "path": "items.jsonl", "name": "main", "fields": {"meta": ["topic"]}},
            {"loader": "jsonl", "path": "more.jsonl", "name": "more"},
        ],
        "models": {"default": "hashed:m"},
        "judges": [{"persona": "mainstream"}, {"persona": "skeptical"}],
        "jury": {"checks": ["position"]},
        "protocols": [{"kind": "direct_qa", "name": "blind"}],
    }
    path = write_scenario(tmp_path, body, rows, name="two.yaml")
    the_run = Run.create(load_scenario(path), Options(), tmp_path / "run", path)
    asyncio.run(the_run.execute())
    records = list(the_run.store.records())
    the_run.close()
    text = run_markdown(read_run(tmp_path / "run"))
    topic = md_table(text, "Accuracy by topic")
    assert sum(int(r["n"]) for r in topic if r["judge"] == "decision") == 9  # the other source has no topic
    sources = md_table(text, "Accuracy by data source")
    assert {r["data source"]: r["n"] for r in sources if r["judge"] == "decision"} == {"main": "9", "more": "4"}
    flagged = sum(any(f == "position-inconsistent" for f in r.decision.flags) for r in records if r.decision)
    assert 0 < flagged < len(records)  # the hashed judges flip on some swaps: the check bites
    assert row(md_table(text, "Flags on the decisions"), check="position-inconsistent")["flagged"] == str(flagged)
    guesses = md_table(text, "Confidence below a blind guess")
    assert {r["judge"] for r in guesses} == {"mainstream", "skeptical"} and {r["below a guess"] for r in guesses} == {
        "0"
    }  # the hashed judges state 50 to 100
