"""Metrics against known values: textbook examples, the libraries they wrap, and simulated data with a known answer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("scipy", reason="the metrics need the 'report' extra: pip install 'agora[report]'")

from scipy.stats import binomtest

from agora.metrics import bootstrap
from agora.metrics.accuracy import accuracy, cross_fitted, risk_coverage, selective
from agora.metrics.agreement import cohen_kappa, fleiss_kappa, jury_agreement, krippendorff_alpha, percent
from agora.metrics.calibration import calibration
from agora.metrics.measure import measure
from agora.metrics.paired import paired
from agora.metrics.ranking import bradley_terry, elo, ratings
from agora.metrics.robustness import robustness
from agora.runner.record import Record
from agora.runner.store import RunStore
from agora.types import Decision, Verdict

# -- agreement


def test_cohen_kappa_of_the_textbook_example_is_0_4() -> None:
    # Wikipedia "Cohen's kappa": 50 proposals, 20 yes-yes, 5 yes-no, 10 no-yes, 15 no-no.
    a = [1] * 20 + [1] * 5 + [0] * 10 + [0] * 15
    b = [1] * 20 + [0] * 5 + [1] * 10 + [0] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.4)
    assert percent(a, b) == pytest.approx(0.7)  # the same raters look far better by percent agreement


def test_kappa_is_none_where_it_is_undefined_and_zero_for_a_constant_guesser() -> None:
    assert cohen_kappa([1, 1, 1], [1, 1, 1]) is None  # one category on both sides: chance explains everything
    assert cohen_kappa([1], [1]) is None
    # A judge that always says "0" agrees 80% with a gold that is 80% zeros, and its kappa is 0.
    gold = [0] * 8 + [1] * 2
    assert percent([0] * 10, gold) == pytest.approx(0.8)
    assert cohen_kappa([0] * 10, gold) == pytest.approx(0.0)
    with pytest.raises(ValueError):
        cohen_kappa([0, 1], [0])


FLEISS_1971 = [  # Wikipedia "Fleiss' kappa": 10 subjects, 14 raters, 5 categories (counts per category)
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
]


def test_fleiss_kappa_of_the_textbook_example_is_0_210() -> None:
    ratings_ = [[c for c, count in enumerate(row) for _ in range(count)] for row in FLEISS_1971]
    assert fleiss_kappa(ratings_) == pytest.approx(0.2099, abs=1e-4)


KRIPPENDORFF_2011 = [  # Krippendorff (2011) "Computing Krippendorff's alpha-reliability": 4 observers, 12 units
    [1, 2, 3, 3, 2, 1, 4, 1, 2, np.nan, np.nan, np.nan],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, np.nan, 3],
    [np.nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, np.nan],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, np.nan],
]


def test_krippendorff_alpha_of_the_published_example_is_0_743() -> None:
    assert krippendorff_alpha(KRIPPENDORFF_2011) == pytest.approx(0.743, abs=1e-3)
    assert krippendorff_alpha([[1, 1, 1], [1, 1, 1]]) is None  # one value only: undefined, not 1


def test_jury_agreement_uses_complete_items_for_fleiss_and_pairs_for_cohen() -> None:
    choices = {
        "a": {"i1": 0, "i2": 1, "i3": 0, "i4": 1, "i5": 0},
        "b": {"i1": 0, "i2": 1, "i3": 1, "i4": 1, "i5": None},
        "c": {"i1": 0, "i2": 0, "i3": 0, "i4": 1, "i5": 1},
    }
    jury = jury_agreement("debate", choices)
    assert jury.judges == ("a", "b", "c") and jury.n == 4  # i5 lacks b's choice
    assert jury.percent_agreement == pytest.approx(2 / 4)
    complete = [[choices[j][i] for j in "abc"] for i in ("i1", "i2", "i3", "i4")]
    assert jury.fleiss_kappa == pytest.approx(fleiss_kappa(complete))
    ab = cohen_kappa([0, 1, 0, 1], [0, 1, 1, 1])
    ac = cohen_kappa([0, 1, 0, 1, 0], [0, 0, 0, 1, 1])  # a and c share all five items
    assert jury.pairwise_kappa[0][1] == pytest.approx(ab) and jury.pairwise_kappa[1][0] == pytest.approx(ab)
    assert jury.pairwise_kappa[0][2] == pytest.approx(ac)
    data = [[0, 1, 0, 1, 0], [0, 1, 1, 1, np.nan], [0, 0, 0, 1, 1]]
    assert jury.krippendorff_alpha == pytest.approx(krippendorff_alpha(data))


# -- accuracy, selective accuracy, bootstrap


def test_accuracy_counts_undecided_items_as_not_right() -> None:
    outcomes = [(90.0, True), (80.0, True), None, (70.0, False)]
    estimate = accuracy(outcomes, seed=1)
    assert estimate.value == pytest.approx(0.5) and estimate.n == 4
    assert accuracy([]).value is None


def test_bootstrap_intervals_cover_the_true_rate_about_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(7)
    truth, covered, widths = 0.7, 0, []
    for trial in range(120):
        sample = list(rng.random(150) < truth)
        estimate = accuracy([(50.0, bool(x)) for x in sample], seed=trial)
        assert estimate.low is not None and estimate.high is not None
        covered += estimate.low <= truth <= estimate.high
        widths.append(estimate.high - estimate.low)
    assert 0.88 <= covered / 120 <= 1.0
    assert np.mean(widths) == pytest.approx(2 * 1.96 * np.sqrt(truth * (1 - truth) / 150), rel=0.12)


def test_bootstrap_needs_two_observations_and_collapses_on_constant_data() -> None:
    assert bootstrap.mean([1.0], seed=0) == bootstrap.Estimate(1.0, None, None, 1)
    constant = bootstrap.mean([1.0] * 10, seed=0)
    assert (constant.low, constant.high) == (1.0, 1.0)


def test_selective_accuracy_and_the_risk_coverage_curve() -> None:
    outcomes = [(90.0, True), (80.0, True), (70.0, False), (60.0, False), None]
    assert selective(outcomes, 75) == (pytest.approx(2 / 5), 1.0)
    assert selective(outcomes, 95) == (0.0, None)
    curve = risk_coverage(outcomes)
    assert curve.thresholds == (60.0, 70.0, 80.0, 90.0)
    assert curve.coverage == pytest.approx((4 / 5, 3 / 5, 2 / 5, 1 / 5))
    assert curve.selective_accuracy == pytest.approx((0.5, 2 / 3, 1.0, 1.0))
    assert curve.aurc == pytest.approx((0 + 0 + 1 / 3 + 1 / 2) / 4)
    # the same answers with confidence that ranks the wrong ones first have a larger area
    reversed_ = [(60.0, True), (70.0, True), (80.0, False), (90.0, False)]
    assert risk_coverage(reversed_).aurc == pytest.approx((1 + 1 + 2 / 3 + 1 / 2) / 4)
    # ties are taken together: equal confidence cannot rank
    assert risk_coverage([(99.0, True), (99.0, False)]).aurc == pytest.approx(0.5)


def test_cross_fitted_thresholds_are_chosen_without_the_item_they_judge() -> None:
    # one fold per item: each item's threshold is fitted on the other four alone, whatever the shuffle
    outcomes = [(90.0, True), (80.0, False), (70.0, False), (60.0, True), None]
    coverage, kept = cross_fitted(outcomes, folds=5)
    # 90, 80 and 70 are kept under threshold 60 (fitted without them); 60 is judged under 80 (fitted on the first
    # three, where 80 keeps 2 of 4 at 1/2) and dropped; the undecided item is never kept
    assert coverage == pytest.approx(3 / 5)
    assert kept.value == pytest.approx(1 / 3)
    assert kept.n == 3
    # fitted in-sample, the best threshold keeping half (60, all four decided at 1/2) would report more
    assert max(a for t in (60, 70, 80) if (a := selective(outcomes, t)[1]) is not None) == 0.5


def test_cross_fitted_keeps_the_confident_right_answers_when_confidence_ranks_them() -> None:
    outcomes = [(95.0, True)] * 40 + [(60.0, False)] * 40
    coverage, kept = cross_fitted(outcomes, min_coverage=0.4, seed=3)
    assert coverage == 0.5
    assert kept.value == 1.0
    # where no threshold keeps enough of the fitting folds, every decided item is kept
    assert cross_fitted(outcomes, min_coverage=0.9)[0] == 1.0
    with pytest.raises(ValueError, match="folds"):
        cross_fitted(outcomes, folds=1)


# -- calibration


def test_ece_and_brier_of_a_worked_example() -> None:
    result = calibration([0.9, 0.9, 0.9, 0.9, 0.6, 0.6], [True, True, True, False, True, False])
    assert result.ece == pytest.approx(4 / 6 * 0.15 + 2 / 6 * 0.1)
    assert result.brier == pytest.approx((3 * 0.01 + 0.81 + 0.16 + 0.36) / 6)
    filled = [b for b in result.bins if b.n]
    assert [(b.lower, b.upper, b.n, b.accuracy) for b in filled] == [
        (pytest.approx(0.5), pytest.approx(0.6), 2, 0.5),
        (pytest.approx(0.8), pytest.approx(0.9), 4, 0.75),
    ]
    assert sum(b.n for b in result.bins) == 6 and len(result.bins) == 10


def test_ece_is_near_zero_when_calibrated_and_large_when_overconfident() -> None:
    from sklearn.calibration import calibration_curve

    rng = np.random.default_rng(3)
    p = rng.uniform(0.5, 1.0, 20_000)
    y = rng.random(20_000) < p
    calibrated = calibration(list(p), list(y))
    assert calibrated.ece is not None and calibrated.ece < 0.02
    # the diagram's bins agree with scikit-learn's (uniform bins, no value on an edge here)
    accuracy_, confidence = calibration_curve(y, p, n_bins=10, strategy="uniform")
    ours = [(b.accuracy, b.mean_confidence) for b in calibrated.bins if b.n]
    assert [a for a, _ in ours] == pytest.approx(list(accuracy_))
    assert [c for _, c in ours] == pytest.approx(list(confidence))
    # the small models' habit: say 95 and be right 60% of the time
    overconfident = calibration([0.95] * 1000, list(rng.random(1000) < 0.6))
    assert overconfident.ece == pytest.approx(0.35, abs=0.04)
    assert calibration([], []).ece is None


# -- paired comparisons


def test_paired_difference_and_mcnemar_exact_test() -> None:
    items = [f"i{k}" for k in range(40)]
    a = {i: True for i in items}
    b = {i: (k >= 10 or k < 2) for k, i in enumerate(items)}  # b misses i2..i9: 8 items only a got right
    b["i39"] = None  # undecided counts as not right: 9 discordant, all for a
    a["i0"] = False  # one item only b got right
    result = paired(a, b, a="debate", b="consultancy", judge="decision", seed=0)
    assert (result.a_only, result.b_only) == (9, 1)
    assert result.difference.value == pytest.approx((39 - 31) / 40)
    assert result.mcnemar_p == pytest.approx(binomtest(1, 10, 0.5).pvalue)
    assert result.difference.low is not None and result.difference.low > 0  # the interval excludes no difference


def test_paired_uses_only_shared_items_and_the_pairing_narrows_the_interval() -> None:
    rng = np.random.default_rng(11)
    base = rng.random(300) < 0.6
    a = {f"i{k}": bool(x) for k, x in enumerate(base)}
    b = dict(a)
    for k in rng.choice(300, 15, replace=False):  # b differs from a on 15 items only
        b[f"i{k}"] = not b[f"i{k}"]
    b["extra"] = True
    result = paired(a, b, a="x", b="y", judge="j", seed=0)
    assert result.difference.n == 300
    unpaired_width = 2 * 1.96 * np.sqrt(2 * 0.6 * 0.4 / 300)
    assert result.difference.high - result.difference.low < unpaired_width / 2  # type: ignore[operator]
    assert paired({}, {"i": True}, a="x", b="y", judge="j").difference.value is None


# -- rankings


TRUTH = {"weak": -1.0, "even": 0.0, "strong": 1.0}


def simulated_matches(n: int, seed: int) -> list[tuple[str, str]]:
    """Matches between three players of known Bradley-Terry strength."""
    rng = np.random.default_rng(seed)
    names = list(TRUTH)
    matches = []
    for _ in range(n):
        x, y = (names[k] for k in rng.choice(3, 2, replace=False))
        p_x = 1 / (1 + np.exp(TRUTH[y] - TRUTH[x]))
        matches.append((x, y) if rng.random() < p_x else (y, x))
    return matches


def test_bradley_terry_and_elo_recover_known_strengths() -> None:
    matches = simulated_matches(3000, seed=5)
    assert bradley_terry(matches, list(TRUTH)) == pytest.approx([-1.0, 0.0, 1.0], abs=0.12)
    found = ratings(matches, seed=0, resamples=60)
    assert [r.player for r in found] == ["strong", "even", "weak"]
    for rating in found:
        assert rating.matches == sum(rating.player in m for m in matches)
        assert rating.elo.low <= rating.elo.value <= rating.elo.high  # type: ignore[operator]
    elos = {r.player: r.elo.value for r in found}
    assert elos["strong"] > elos["even"] > elos["weak"]


def test_bradley_terry_intervals_cover_the_truth() -> None:
    covered = total = 0
    for seed in range(10):
        for rating in ratings(simulated_matches(600, seed), seed=seed, resamples=100):
            total += 1
            covered += rating.bradley_terry.low <= TRUTH[rating.player] <= rating.bradley_terry.high  # type: ignore[operator]
    assert covered / total >= 0.8


def test_elo_of_a_single_match_and_too_few_players() -> None:
    assert list(elo([("a", "b")], ["a", "b"])) == [1516.0, 1484.0]
    assert ratings([]) == ()


# -- robustness and a whole run


Vote = tuple[str, int | None, float]
"""(judge, choice, confidence)."""


def record(
    item: str, protocol: str, gold: int, outcome: int | str, verdicts: list[Vote], sides: dict[str, int] | None = None
) -> Record:
    """An ok record whose judges voted ``verdicts`` and whose seat decided ``outcome``."""
    return Record(
        key=f"{protocol}/{item}",
        item=item,
        protocol=protocol,
        status="ok",
        gold=gold,
        decision=Decision(outcome=outcome, rule="majority", votes=[0, 0], confidence=80.0),
        verdicts=[
            Verdict(choice=c, confidence=conf, reasoning="r", judge=j, persona=j, model="m", abstained=c is None)
            for j, c, conf in verdicts
        ],
        sides=sides or {},
    )


def test_robustness_rates_per_check_and_judge() -> None:
    probes = [
        {"master-keys": {"a": True, "b": False}, "position": {"a": None}},
        {"master-keys": {"a": False, "b": False}, "position": {"a": True}},
        {"master-keys": {"a": True, "b": None}},
    ]
    records = [
        Record(key=f"probes/{k}", item=str(k), protocol="probes", status="ok", probes=p) for k, p in enumerate(probes)
    ]
    found = {(r.check, r.judge): r for r in robustness(records)}
    assert found[("master-keys", "a")].rate.value == pytest.approx(2 / 3)
    assert found[("master-keys", "b")].rate.value == 0.0 and found[("master-keys", "b")].skipped == 1
    assert found[("position", "a")].rate.n == 1 and found[("position", "a")].skipped == 1


def test_measure_reads_a_run_store(tmp_path: Path) -> None:
    store = RunStore(tmp_path, create=True)
    store.set_manifest(
        status="running",
        scenario={
            "name": "demo",
            "jury": {"min_confidence": 75},
            "protocols": [{"name": "debate"}, {"name": "consultancy"}],
        },
    )
    golds = [0, 1, 0, 1, 0, 1]
    for k, gold in enumerate(golds):
        item = f"i{k}"
        # consultancy: judge x always right at 90 and y right on half at 60; the decision follows x
        store.put(
            record(item, "consultancy", gold, gold, [("x", gold, 90.0), ("y", gold if k % 2 else 1 - gold, 60.0)])
        )
        # debate: every judge and the decision wrong on the first item, inconclusive on the second
        outcome: int | str = 1 - gold if k == 0 else ("inconclusive" if k == 1 else gold)
        x_choice = 1 - gold if k == 0 else gold
        store.put(
            record(
                item,
                "debate",
                gold,
                outcome,
                [("x", x_choice, 99.0), ("y", None, 10.0)],
                sides={"debater_a": 0, "debater_b": 1},
            )
        )
    store.put(Record(key="debate/i9", item="i9", protocol="debate", status="error", error="boom"))
    metrics = measure(store, seed=0)
    rows = {(h.protocol, h.judge): h for h in metrics.headline}
    assert [key[0] for key in rows] == ["debate"] * 3 + ["consultancy"] * 3  # the scenario's order
    assert metrics.partial and metrics.tasks == 13 and metrics.errors == 1 and metrics.name == "demo"

    x = rows[("consultancy", "x")]
    assert (x.n, x.accuracy.value, x.kappa, x.percent_agreement) == (6, 1.0, 1.0, 1.0)
    assert x.persona == "x" and x.model == "m" and x.errors == 0
    assert x.threshold == 75 and x.coverage == 1.0 and x.selective_accuracy == 1.0
    assert x.calibration.ece == pytest.approx(0.1)
    y = rows[("consultancy", "y")]
    assert y.accuracy.value == pytest.approx(0.5) and y.coverage == 0.0 and y.selective_accuracy is None

    decision = rows[("debate", "decision")]
    assert decision.accuracy.value == pytest.approx(4 / 6) and decision.errors == 1
    assert decision.percent_agreement == pytest.approx(4 / 5)  # on the five items it decided
    assert rows[("debate", "y")].accuracy.value == 0.0 and rows[("debate", "y")].risk_coverage.aurc is None

    pairs = {(p.a, p.b, p.judge): p for p in metrics.paired}
    first = pairs[("debate", "consultancy", "decision")]
    assert (first.a_only, first.b_only) == (0, 2)
    assert first.difference.value == pytest.approx(4 / 6 - 1)
    assert {p.judge for p in metrics.paired} == {"decision", "x", "y"}

    agreement = {a.protocol: a for a in metrics.agreement}
    assert agreement["consultancy"].percent_agreement == pytest.approx(0.5)
    assert agreement["debate"].n == 0 and agreement["debate"].fleiss_kappa is None  # y never chose

    # debater_a argued answer 0 and won when the decision was 0
    winners = {r.player: r.matches for r in metrics.ratings}
    assert winners == {"debater_a": 5, "debater_b": 5}
    store.set_manifest(status="finished")
    assert not measure(store).partial


def test_right_and_failed_probe_tasks_add_no_accuracy_row(tmp_path: Path) -> None:
    from agora.metrics.measure import right

    store = RunStore(tmp_path, create=True)
    store.set_manifest(
        status="finished",
        scenario={"name": "d", "protocols": [{"name": "qa", "kind": "direct_qa"}, {"name": "p", "kind": "probes"}]},
    )
    store.put(record("i0", "qa", 0, 0, [("x", 1, 90.0)]))
    store.put(record("i1", "qa", 1, "inconclusive", [("x", None, 90.0)]))
    store.put(Record(key="p/i0", item="i0", protocol="p", status="error", error="boom"))
    store.put(Record(key="qa/i2", item="i2", protocol="qa", status="error", error="boom"))
    records = list(store.records())
    assert right(records, "qa", "decision") == {"i0": True, "i1": None}
    assert right(records, "qa", "x") == {"i0": False, "i1": None}
    assert right(records, "p", "decision") == {}
    metrics = measure(store)
    assert [(h.protocol, h.judge, h.errors) for h in metrics.headline] == [("qa", "x", 1), ("qa", "decision", 1)]
    assert metrics.errors == 2


def test_a_jurors_token_probability_is_what_its_calibration_reads(tmp_path: Path) -> None:
    store = RunStore(tmp_path, create=True)
    store.set_manifest(status="finished", scenario={"name": "d", "protocols": [{"name": "qa", "kind": "direct_qa"}]})
    # x states 100 every time but gives its letter probability 0.6; y states 100 and gives none
    for k, right_ in enumerate([True, True, True, False]):
        rec = record(f"i{k}", "qa", 0, 0 if right_ else 1, [("x", 0 if right_ else 1, 100.0), ("y", 0, 100.0)])
        rec.verdicts[0] = rec.verdicts[0].model_copy(update={"probability": 0.6})
        store.put(rec)
    rows = {h.judge: h for h in measure(store).headline}
    assert rows["x"].calibration.brier == pytest.approx((3 * 0.4**2 + 0.6**2) / 4)
    assert rows["x"].calibration.ece == pytest.approx(abs(0.75 - 0.6))
    assert rows["y"].calibration.brier == 0.0  # no probability: its stated 100, right every time
