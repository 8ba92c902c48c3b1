"""The metrics of a debate tournament: every assignment is a task of its own, the ratings rate the debater models
(self-play is no match), how often each model's side wins when right and when wrong, and the judge's accuracy by
matchup beside the debaters' Elo; computed from a run store, and shown in the report."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("scipy", reason="the metrics need the 'report' extra: pip install 'agora[report]'")

from agora.items import Item
from agora.metrics.measure import _matches, measure, right
from agora.metrics.tournament import matchups, side_wins, trends
from agora.metrics.types import Estimate, Matchup, Rating
from agora.reports import read_run, run_html, run_markdown
from agora.runner.record import Record, task_key
from agora.runner.store import RunStore
from agora.types import Decision, Verdict
from tests.test_reports import md_table, row

Seat = tuple[str, str, int]
"""(speaker, model, the answer it argued)."""

DEBATE = (("debater_a", 0), ("debater_b", 1))


def record(
    item: str,
    gold: int | None,
    seats: list[Seat],
    outcome: int | str,
    *,
    protocol: str = "debate",
    label: str | None = None,
    judge_choice: int | None = None,
) -> Record:
    """An ok record of ``protocol`` on ``item`` whose seat decided ``outcome``; a tournament's task (``label`` its
    assignment, the models named) unless ``label`` is ``None``. Judge ``x`` chose ``judge_choice`` (default: the
    outcome)."""
    choice = judge_choice if judge_choice is not None else (outcome if isinstance(outcome, int) else None)
    return Record(
        key=task_key(protocol, item, label),
        item=item,
        protocol=protocol,
        status="ok",
        gold=gold,
        decision=Decision(outcome=outcome, rule="majority", votes=[0.0, 0.0], confidence=80.0),  # type: ignore[arg-type]
        verdicts=[
            Verdict(choice=choice, confidence=80.0, reasoning="r", judge="x", model="j", abstained=choice is None)
        ],
        sides={speaker: side for speaker, _, side in seats},
        assignment=label,
        models={speaker: model for speaker, model, _ in seats} if label is not None else {},
    )


def versus(item: str, gold: int | None, first: str, second: str, outcome: int | str, **kwargs: object) -> Record:
    """A two-answer debate task: ``first`` plays debater_a on answer A, ``second`` debater_b on answer B (the models
    numbered in the order of their names, as in the assignment's label)."""
    label = f"{0 if first < second else 1}A-{1 if first < second else 0}B"
    seats = [("debater_a", first, 0), ("debater_b", second, 1)]
    return record(item, gold, seats, outcome, label=label, **kwargs)  # type: ignore[arg-type]


def new_store(directory: Path, protocols: list[dict[str, str]], items: Sequence[Item] = ()) -> RunStore:
    directory.mkdir()
    store = RunStore(directory, create=True)
    store.set_manifest(status="finished", scenario={"name": "t", "protocols": protocols})
    for item in items:
        store.add_item(item)
    return store


def strong_wins(n_items: int) -> list[Record]:
    """``strong`` against ``weak`` on ``n_items`` items, each model arguing each answer once; ``strong`` always wins."""
    found = []
    for k in range(n_items):
        gold = k % 2
        found.append(versus(f"i{k}", gold, "strong", "weak", 0))  # strong argued A and won
        found.append(versus(f"i{k}", gold, "weak", "strong", 1))  # strong argued B and won
    return found


def test_the_stronger_model_rates_above_the_weaker_whatever_side_it_argues(tmp_path: Path) -> None:
    store = new_store(tmp_path / "run", [{"name": "debate", "kind": "debate"}])
    for r in strong_wins(8):
        store.put(r)
    metrics = measure(store, seed=0)
    rated = {r.player: r for r in metrics.ratings}
    assert set(rated) == {"strong", "weak"}  # the models, not debater_a / debater_b
    strong, weak = rated["strong"], rated["weak"]
    assert strong.matches == weak.matches == 16
    assert strong.elo.low is not None and weak.elo.value is not None and strong.elo.low > weak.elo.value
    assert strong.bradley_terry.low is not None and weak.bradley_terry.value is not None
    assert strong.bradley_terry.low > weak.bradley_terry.value
    assert [r.player for r in metrics.ratings] == ["strong", "weak"]


def test_self_play_is_no_match_and_speakers_are_players_outside_a_tournament() -> None:
    self_play = [
        record("i0", 0, [("debater_a", "m", 0), ("debater_b", "m", 1)], 0, label="0A-0B"),
        record("i0", 0, [("debater_a", "m", 1), ("debater_b", "m", 0)], 0, label="0B-0A"),
    ]
    assert _matches(self_play) == []
    assert measure_free_ratings(self_play) == ()
    plain = record("i0", 0, [("debater_a", "m", 0), ("debater_b", "m", 1)], 1)
    assert _matches([plain]) == [("debater_b", "debater_a")]


def measure_free_ratings(records: list[Record]) -> tuple[Rating, ...]:
    from agora.metrics.ranking import ratings

    return ratings(_matches(records))


SIDE_WINS = [
    versus("i0", 0, "a", "b", 0),  # a right, won; b wrong, lost
    versus("i0", 0, "b", "a", 1),  # b right, lost; a wrong, won
    versus("i1", 1, "a", "b", "inconclusive"),  # b right, not won; a wrong, not won
    versus("i1", 1, "b", "a", 1),  # a right, won; b wrong, lost
    versus("i2", 0, "a", "b", 1),  # a right, lost; b wrong, won
    record("i3", 0, [("consultant", "a", 0)], 0, protocol="consultancy", label="0A"),  # a right, won
    record("i3", 0, [("consultant", "a", 1)], 1, protocol="consultancy", label="0B"),  # a wrong, won
    record("i3", 0, [("consultant", "b", 1)], 0, protocol="consultancy", label="1B"),  # b wrong, lost
    # none of these count: no gold, an error, a task outside a tournament
    versus("i4", None, "a", "b", 0),
    Record(key="debate/i5@0A-1B", item="i5", protocol="debate", status="error", error="boom", assignment="0A-1B"),
    record("i6", 0, [("debater_a", "a", 0), ("debater_b", "b", 1)], 0),
]


def test_side_wins_count_each_model_on_the_right_and_the_wrong_side() -> None:
    found = {(s.protocol, s.model): s for s in side_wins(SIDE_WINS, seed=0)}
    assert list(found) == [("debate", "a"), ("debate", "b"), ("consultancy", "a"), ("consultancy", "b")]
    a, b = found[("debate", "a")], found[("debate", "b")]
    assert (a.right.n, a.right.value, a.wrong.n, a.wrong.value) == (3, pytest.approx(2 / 3), 2, 0.5)
    assert (b.right.n, b.right.value, b.wrong.n, b.wrong.value) == (2, 0.0, 3, pytest.approx(1 / 3))
    for rate in (a.right, a.wrong, b.wrong):
        assert rate.low is not None and rate.high is not None and rate.low <= rate.value <= rate.high  # type: ignore[operator]
    consultant_a, consultant_b = found[("consultancy", "a")], found[("consultancy", "b")]
    assert (consultant_a.right.value, consultant_a.right.n, consultant_a.wrong.value, consultant_a.wrong.n) == (
        1,
        1,
        1,
        1,
    )
    assert consultant_b.right == Estimate(None, None, None, 0) and (consultant_b.wrong.value, consultant_b.wrong.n) == (
        0,
        1,
    )


def test_matchups_give_the_judge_accuracy_per_pair_of_sides_with_their_elo() -> None:
    three = record("i7", 0, [("debater_a", "c", 0), ("debater_b", "b", 1), ("debater_c", "a", 2)], 2, label="2A-1B-0C")
    rated = [
        Rating("a", Estimate(1540.0, 1500.0, 1580.0, 4), Estimate(0.5, 0.1, 0.9, 4), 4),
        Rating("b", Estimate(1460.0, 1420.0, 1500.0, 4), Estimate(-0.5, -0.9, -0.1, 4), 4),
    ]
    found = {(m.protocol, m.right, m.wrong): m for m in matchups([*SIDE_WINS, three], rated, seed=0)}
    assert list(found) == [
        ("debate", "a", "b"),
        ("debate", "b", "a"),
        ("debate", "c", "a + b"),  # more than two answers: the wrong sides' models joined
        ("consultancy", None, "a"),
        ("consultancy", None, "b"),
        ("consultancy", "a", None),
    ]
    ab, ba = found[("debate", "a", "b")], found[("debate", "b", "a")]
    assert (ab.accuracy.value, ab.accuracy.n, ab.elo_right, ab.elo_wrong) == (pytest.approx(2 / 3), 3, 1540.0, 1460.0)
    assert (ba.accuracy.value, ba.accuracy.n, ba.elo_right, ba.elo_wrong) == (0.0, 2, 1460.0, 1540.0)
    joined = found[("debate", "c", "a + b")]
    assert (joined.accuracy.value, joined.elo_right, joined.elo_wrong) == (0.0, None, None)
    assert found[("consultancy", "a", None)].elo_wrong is None and found[("consultancy", None, "b")].elo_right is None


def test_the_trend_correlates_the_right_sides_elo_lead_with_judge_accuracy() -> None:
    def row_(right: str, wrong: str | None, elo_right: float, elo_wrong: float | None, value: float) -> Matchup:
        return Matchup("debate", right, wrong, elo_right, elo_wrong, Estimate(value, None, None, 4))

    rows = [
        row_("x", "y", 1600, 1400, 0.9),
        row_("y", "x", 1400, 1600, 0.5),
        row_("x", "z", 1600, 1500, 0.7),
        row_("z", "y", 1500, 1400, 0.8),
        row_("x", None, 1600, None, 0.1),  # one side unrated: left out
    ]
    (trend,) = trends(rows)
    leads, values = [200, -200, 100, 100], [0.9, 0.5, 0.7, 0.8]
    assert trend.protocol == "debate" and trend.rows == 4
    assert trend.r == pytest.approx(np.corrcoef(leads, values)[0, 1])
    assert trends(rows[:2])[0].r is None  # fewer than three rows
    flat = [row_(r.right or "", r.wrong, r.elo_right or 0, r.elo_wrong, 0.5) for r in rows[:3]]
    assert trends(flat)[0].r is None  # the accuracy does not vary


def test_headline_counts_every_assignment_and_keys_tasks_not_items(tmp_path: Path) -> None:
    items = [
        Item(id=f"i{k}", question="Q?", answers=("a", "b"), gold=k % 2, meta={"kind": "odd" if k % 2 else "even"})
        for k in range(3)
    ]
    protocols = [{"name": "debate", "kind": "debate"}, {"name": "qa", "kind": "direct_qa"}]
    store = new_store(tmp_path / "run", protocols, items)
    tournament = strong_wins(3)
    for r in tournament:
        store.put(r)
    # the judge of qa is right on i0 and i2, wrong on i1
    for k in range(3):
        store.put(record(f"i{k}", k % 2, [], k % 2 if k != 1 else 0, protocol="qa"))
    metrics = measure(store, seed=0)
    rows = {(h.protocol, h.judge): h for h in metrics.headline}
    debate = rows[("debate", "decision")]
    assert debate.n == 6 and rows[("debate", "x")].n == 6  # 3 items x 2 assignments
    # strong won every task: it argued gold on half of them
    assert debate.accuracy.value == pytest.approx(0.5)
    qa = rows[("qa", "decision")]
    assert qa.n == 3 and qa.accuracy.value == pytest.approx(2 / 3)
    records = list(store.records())
    assert right(records, "qa", "decision") == {"i0": True, "i1": False, "i2": True}
    assert set(right(records, "debate", "decision")) == {
        f"i{k}@{label}" for k in range(3) for label in ("0A-1B", "1A-0B")
    }
    assert metrics.paired == ()  # the tournament and qa share no task
    # breakdown by item metadata counts each item's tasks: i0 and i2 are even, i1 odd
    by_kind = {(b.protocol, b.judge, b.value): b.accuracy for b in metrics.breakdown if b.by == "kind"}
    assert by_kind[("debate", "decision", "even")].n == 4 and by_kind[("debate", "decision", "odd")].n == 2
    assert by_kind[("debate", "decision", "even")].value == pytest.approx(0.5)  # gold 0: strong argued it once of two
    assert by_kind[("qa", "decision", "odd")].value == 0.0 and by_kind[("qa", "decision", "even")].n == 2
    # the tournament's tables
    wins = {s.model: s for s in metrics.side_wins}
    assert wins["strong"].right.value == 1.0 and wins["strong"].wrong.value == 1.0 and wins["weak"].right.value == 0.0
    elo = {r.player: r.elo.value for r in metrics.ratings}
    pairs = {(m.right, m.wrong): m for m in metrics.matchups}
    assert set(pairs) == {("strong", "weak"), ("weak", "strong")}
    assert pairs[("strong", "weak")].accuracy.value == 1.0 and pairs[("weak", "strong")].accuracy.value == 0.0
    assert pairs[("strong", "weak")].elo_right == elo["strong"] and pairs[("strong", "weak")].elo_wrong == elo["weak"]
    assert [(t.protocol, t.r, t.rows) for t in metrics.trends] == [("debate", None, 2)]


def test_a_run_without_a_tournament_keeps_its_figures(tmp_path: Path) -> None:
    store = new_store(tmp_path / "run", [{"name": "debate", "kind": "debate"}])
    seats = [("debater_a", "m", 0), ("debater_b", "m", 1)]
    outcomes: list[int | str] = [0, 1, 0, "inconclusive"]
    for k, outcome in enumerate(outcomes):
        store.put(record(f"i{k}", 0, seats, outcome))
    metrics = measure(store, seed=0)
    (decision,) = [h for h in metrics.headline if h.judge == "decision"]
    assert decision.n == 4 and decision.accuracy.value == pytest.approx(0.5)
    assert right(list(store.records()), "debate", "decision") == {"i0": True, "i1": False, "i2": True, "i3": None}
    assert {r.player: r.matches for r in metrics.ratings} == {"debater_a": 3, "debater_b": 3}
    assert metrics.side_wins == () and metrics.matchups == () and metrics.trends == ()


def test_reports_show_the_tournament_tables(tmp_path: Path) -> None:
    store = new_store(tmp_path / "run", [{"name": "debate", "kind": "debate"}])
    for r in strong_wins(4):
        store.put(r)
    store.close()
    report = read_run(tmp_path / "run")
    text = run_markdown(report)
    wins = md_table(text, "Side wins by model")
    strong = row(wins, model="strong")
    assert strong["right-side win rate [95% CI]"].startswith("100.0%") and strong["n right"] == "4"
    assert row(wins, model="weak")["wrong-side win rate [95% CI]"].startswith("0.0%")
    matched = md_table(text, "Judge accuracy by matchup")
    first = row(matched, **{"right side": "strong"})
    assert first["wrong side"] == "weak" and first["judge accuracy [95% CI]"].startswith("100.0%") and first["n"] == "4"
    assert int(first["Elo right"]) > 1500 > int(first["Elo wrong"])
    assert "debate r = – over 2 matchups" in text
    page = run_html(report)
    assert 'id="side-wins"' in page and 'id="matchups"' in page and 'href="#matchups"' in page
