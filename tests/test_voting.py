"""Voting rules against hand-computed cases, the rule registry, the verbal-confidence table and Dawid–Skene."""

from __future__ import annotations

import importlib.util
import json
import random
from collections.abc import Sequence

import numpy as np
import pytest
from pydantic import ValidationError

from agora.agents.juror import Juror
from agora.aggregation import voting
from agora.aggregation.reliability import Reliability, fit_dawid_skene
from agora.aggregation.voting import Rule, aggregator, get_rule, tally
from agora.backends.scripted import ScriptedBackend
from agora.confidence import CONFIDENCE_WORDS, confidence_from
from agora.errors import ConfigError
from agora.protocols import Jury
from agora.types import Decision, Verdict
from tests.fixtures.registries import scope
from tests.fixtures.verdicts import vote

A, B, C, D = range(4)


def ballot(*choices: int | None, confidence: float = 70) -> list[Verdict]:
    """One verdict per choice, by jurors ``a``, ``b``, ``c``..."""
    return [vote("abcdefg"[i], choice, confidence) for i, choice in enumerate(choices)]


def reliability(accuracies: dict[str, float], prior: Sequence[float] = (0.5, 0.5)) -> Reliability:
    """A binary Dawid–Skene model whose jurors are right with the given probabilities, whatever the answer."""
    confusion = {juror: np.array([[acc, 1 - acc], [1 - acc, acc]]) for juror, acc in accuracies.items()}
    return Reliability(confusion, np.array(prior), np.empty((0, 2)))


# --- 1. one rule at a time ---------------------------------------------------------------------------------


def test_majority_needs_more_than_half_of_the_votes_cast() -> None:
    decision = get_rule("majority")(ballot(A, A, B, None), 2)
    assert (decision.outcome, decision.votes, decision.rule) == (A, [2, 1], "majority")
    assert decision.abstained == ["d"] and decision.dissent == ["c: c says 1"]
    assert decision.confidence == 70 and decision.probability is None
    assert get_rule("majority")(ballot(A, A, B, C), 3).outcome == "inconclusive"  # 2 of 4 is not more than half
    assert get_rule("majority")(ballot(A, B), 2).outcome == "inconclusive"


def test_plurality_takes_the_unique_top_answer_and_a_tie_is_inconclusive() -> None:
    decision = get_rule("plurality")(ballot(A, A, B, C), 3)
    assert (decision.outcome, decision.votes) == (A, [2, 1, 1])
    tied = get_rule("plurality")(ballot(A, A, B, B, C), 3)
    assert (tied.outcome, tied.votes, tied.confidence) == ("inconclusive", [2, 2, 1], None)
    assert len(tied.dissent) == 5  # on an inconclusive decision every voter dissents


def test_weighted_lets_a_heavy_juror_outvote_two_light_ones() -> None:
    rule = get_rule("weighted", weights={"a": 3.0, "b": 1.0, "c": 1.0})
    decision = rule(ballot(A, B, B), 2)
    assert (decision.outcome, decision.votes, decision.rule) == (A, [3, 2], "weighted")
    assert decision.dissent == ["b: b says 1", "c: c says 1"]
    tied = get_rule("weighted", weights={"a": 2.0, "b": 1.0, "c": 1.0})(ballot(A, B, B), 2)
    assert (tied.outcome, tied.votes) == ("inconclusive", [2, 2])


def test_weighted_needs_a_weight_for_every_voter() -> None:
    with pytest.raises(ConfigError, match=r"rule 'weighted'.*'weights'"):
        get_rule("weighted")
    with pytest.raises(ConfigError, match="no weight for c"):
        get_rule("weighted", weights={"a": 1.0, "b": 1.0})(ballot(A, B, B), 2)
    assert get_rule("weighted", weights={"a": 1.0})(ballot(A, None), 2).outcome == A  # abstainers need none
    with pytest.raises(ConfigError, match="negative weight for b"):
        get_rule("weighted", weights={"a": 1.0, "b": -1.0})(ballot(A, B), 2)


def test_confidence_weighted_lets_a_sure_minority_win() -> None:
    verdicts = [vote("a", A, 90), vote("b", B, 40), vote("c", B, 40)]
    assert get_rule("majority")(verdicts, 2).outcome == B
    decision = get_rule("confidence_weighted")(verdicts, 2)
    assert decision.outcome == A and decision.votes == pytest.approx([0.9, 0.8])
    assert decision.confidence == 90


def test_confidence_weighted_ties_up_to_float_rounding() -> None:
    verdicts = [vote("a", A, 90), vote("b", B, 70), vote("c", B, 20)]  # 0.7 + 0.2 != 0.9 in floats
    assert get_rule("confidence_weighted")(verdicts, 2).outcome == "inconclusive"


def test_log_odds_pools_two_answers_by_summing_log_odds() -> None:
    # odds for A: 80/20 = 4, then 40/60 = 2/3 (b chose B at 60), then 99/1 (99.5 is clipped to 0.99)
    verdicts = [vote("a", A, 80), vote("b", B, 60), vote("c", A, 99.5)]
    decision = get_rule("log_odds")(verdicts, 2)
    odds = 4 * (2 / 3) * 99
    assert decision.outcome == A
    assert decision.probability == pytest.approx(odds / (1 + odds))
    assert decision.votes == pytest.approx([odds / (1 + odds), 1 / (1 + odds)])
    assert decision.confidence == pytest.approx((80 + 99.5) / 2)


def test_log_odds_spreads_the_rest_evenly_over_the_other_answers() -> None:
    # a: A at 0.6 -> (.6, .2, .2); b: B at 0.5 -> (.25, .5, .25); c: C at 0.1 -> (.45, .45, .1)
    verdicts = [vote("a", A, 60), vote("b", B, 50), vote("c", C, 10)]
    products = [0.6 * 0.25 * 0.45, 0.2 * 0.5 * 0.45, 0.2 * 0.25 * 0.1]
    decision = get_rule("log_odds")(verdicts, 3)
    assert decision.outcome == A
    assert decision.votes == pytest.approx([p / sum(products) for p in products])
    assert decision.probability == pytest.approx(0.0675 / 0.1175)


def test_log_odds_tie_is_inconclusive_without_a_probability() -> None:
    decision = get_rule("log_odds")([vote("a", A, 70), vote("b", B, 70)], 2)
    assert decision.outcome == "inconclusive" and decision.probability is None
    assert decision.votes == pytest.approx([0.5, 0.5])


def test_borda_counts_explicit_rankings() -> None:
    verdicts = [vote("a", A, ranking=[A, B, C]), vote("b", B, ranking=[B, C, A]), vote("c", C, ranking=[C, B, A])]
    assert get_rule("plurality")(verdicts, 3).outcome == "inconclusive"  # one first place each
    decision = get_rule("borda")(verdicts, 3)
    assert (decision.outcome, decision.votes) == (B, [2, 4, 3])
    assert decision.dissent == ["a: a says 0", "c: c says 2"]


def test_borda_ties_unranked_answers_below_the_ranked_ones() -> None:
    # four answers, places worth 3, 2, 1, 0: unranked answers share the points of the places left
    verdicts = [
        vote("a", B, ranking=[B, A]),  # B 3, A 2, C and D (1 + 0) / 2
        vote("b", A),  # no ranking: A 3, B C D (2 + 1 + 0) / 3
        vote("c", C, ranking=[C, A, D, B]),  # C 3, A 2, D 1, B 0
    ]
    decision = get_rule("borda")(verdicts, 4)
    assert (decision.outcome, decision.votes) == (A, [7, 4, 4.5, 2.5])


def test_borda_tie_is_inconclusive_and_rankings_must_fit() -> None:
    tied = get_rule("borda")([vote("a", A, ranking=[A, B]), vote("b", B, ranking=[B, A])], 2)
    assert (tied.outcome, tied.votes) == ("inconclusive", [1, 1])
    with pytest.raises(ConfigError, match="borda: a ranks"):
        get_rule("borda")([vote("a", A, ranking=[A, C])], 2)
    with pytest.raises(ValidationError, match="must start with the choice"):
        vote("a", A, ranking=[B, A])
    with pytest.raises(ValidationError, match="distinct"):
        vote("a", A, ranking=[A, A])


def test_unanimity_needs_every_voter_to_agree() -> None:
    decision = get_rule("unanimity")(ballot(B, B, None), 2)
    assert (decision.outcome, decision.votes, decision.abstained) == (B, [0, 2], ["c"])
    split = get_rule("unanimity")(ballot(B, B, A), 2)
    assert (split.outcome, split.votes, split.rule) == ("inconclusive", [1, 2], "unanimity")


def test_dawid_skene_rule_trusts_a_reliable_juror_over_two_weak_ones() -> None:
    model = reliability({"a": 0.9, "b": 0.6, "c": 0.6})
    decision = get_rule("dawid_skene", model=model)(ballot(A, B, B), 2)
    # P(A) ∝ .5 * .9 * .4 * .4 = .072, P(B) ∝ .5 * .1 * .6 * .6 = .018
    assert decision.outcome == A
    assert decision.probability == pytest.approx(0.8)
    assert decision.votes == pytest.approx([0.8, 0.2])


def test_dawid_skene_rule_needs_a_model_that_knows_the_jurors() -> None:
    with pytest.raises(ConfigError, match="model must be a fitted Reliability, got dict"):
        get_rule("dawid_skene", model={"a": 0.9})([vote("a", A)], 2)  # as a scenario's params could give it
    rule = get_rule("dawid_skene", model=reliability({"a": 0.9}))
    decision = rule([vote("a", A), vote("z", B)], 2)
    assert decision.outcome == A and decision.flags == ["unknown-juror:z"]
    assert rule([vote("z", B)], 2).outcome == "inconclusive"  # nobody the model knows voted
    with pytest.raises(ConfigError, match="fitted on 2 answers, not 3"):
        rule([vote("a", A)], 3)


RULES: dict[str, Rule] = {
    "majority": get_rule("majority"),
    "plurality": get_rule("plurality"),
    "weighted": get_rule("weighted", weights={"a": 1.0, "b": 2.0}),
    "confidence_weighted": get_rule("confidence_weighted"),
    "log_odds": get_rule("log_odds"),
    "borda": get_rule("borda"),
    "unanimity": get_rule("unanimity"),
    "dawid_skene": get_rule("dawid_skene", model=reliability({"a": 0.9, "b": 0.6}, prior=(0.8, 0.2))),
}


@pytest.mark.parametrize("name", list(RULES))
def test_every_rule_is_inconclusive_when_everyone_abstains(name: str) -> None:
    decision = RULES[name](ballot(None, None), 2)
    assert decision.outcome == "inconclusive" and decision.rule == name
    assert decision.abstained == ["a", "b"] and decision.dissent == []
    assert decision.confidence is None and decision.probability is None
    assert RULES[name]([], 2).outcome == "inconclusive"


@pytest.mark.parametrize("name", list(RULES))
def test_every_rule_rejects_a_choice_outside_the_answers(name: str) -> None:
    with pytest.raises(ConfigError, match="a chose answer 2, outside the 2 answers"):
        RULES[name](ballot(2, A), 2)


def test_every_built_in_rule_is_registered() -> None:
    assert set(RULES) <= set(voting.RULES.names())


# --- 2. the registry ---------------------------------------------------------------------------------------


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rules registered in a test are forgotten after it."""
    scope(monkeypatch, voting.RULES)


@pytest.mark.usefixtures("registry")
async def test_a_user_registered_rule_is_usable_by_name_in_a_jury() -> None:
    @aggregator("last_word")
    def last_word(verdicts: Sequence[Verdict], n_answers: int) -> Decision:
        """The last juror decides alone."""
        weights = [0.0] * (len(verdicts) - 1) + [1.0]
        return tally(verdicts, n_answers, "last_word", weights)

    assert get_rule("last_word") is last_word and "last_word" in voting.RULES
    assert last_word(ballot(A, A, B), 2).outcome == B
    replies = [json.dumps({"reasoning": "r", "answer": letter, "confidence": 70}) for letter in "AAB"]
    jurors = [Juror(ScriptedBackend([reply]), name=f"juror_{i}") for i, reply in enumerate(replies)]
    state = await Jury(jurors, rule="last_word").graph().ainvoke({"question": "q?", "answers": ["yes", "no"]})
    assert state["decision"].outcome == B and state["decision"].rule == "last_word"


@pytest.mark.usefixtures("registry")
def test_a_user_rule_takes_keyword_parameters_bound_by_name() -> None:
    @aggregator("quota")
    def quota(verdicts: Sequence[Verdict], n_answers: int, *, share: float) -> Decision:
        """The top answer needs more than ``share`` of the votes."""
        return tally(verdicts, n_answers, "quota", quota=share)

    assert get_rule("quota", share=0.6)(ballot(A, A, B), 2).outcome == A
    assert get_rule("quota", share=0.7)(ballot(A, A, B), 2).outcome == "inconclusive"
    with pytest.raises(ConfigError, match=r"rule 'quota'.*'share'"):
        get_rule("quota")


def test_unknown_rule_is_a_config_error_with_a_suggestion() -> None:
    with pytest.raises(ConfigError, match=r"unknown rule 'majorty' \(did you mean 'majority'\?\)"):
        get_rule("majorty")
    with pytest.raises(ConfigError, match=r"known: .*borda.*unanimity"):
        get_rule("xyzzy")
    with pytest.raises(ConfigError, match=r"rule 'majority'.*'weights'"):
        get_rule("majority", weights={"a": 1.0})


# --- 3. verdicts, decisions and verbal confidence ----------------------------------------------------------


def test_verdict_and_decision_probabilities_are_optional_and_between_0_and_1() -> None:
    assert vote("a", A).probability is None
    assert Verdict(choice=A, confidence=70, reasoning="", model="m", probability=0.83).probability == 0.83
    with pytest.raises(ValidationError):
        Verdict(choice=A, confidence=70, reasoning="", model="m", probability=1.5)
    with pytest.raises(ValidationError):
        Decision(outcome=A, rule="r", votes=[1, 0], probability=-0.1)


@pytest.mark.parametrize(
    ("stated", "number"),
    [("very low", 10), ("Low", 30), ("medium", 50), (" very  HIGH ", 90), ("certain", 100), (85, 85)],
)
def test_confidence_from_words_and_numbers(stated: float | str, number: float) -> None:
    assert confidence_from(stated) == number


def test_confidence_table_is_ordered_and_unknown_words_are_config_errors() -> None:
    assert list(CONFIDENCE_WORDS.values()) == sorted(CONFIDENCE_WORDS.values())
    with pytest.raises(ConfigError, match=r"unknown confidence word 'hihg' \(did you mean 'high'\?\)"):
        confidence_from("hihg")
    with pytest.raises(ConfigError, match="known: very low, low"):
        confidence_from("zzz")
    with pytest.raises(ConfigError, match="between 0 and 100"):
        confidence_from(120)


# --- 4. Dawid–Skene on simulated juries --------------------------------------------------------------------

ACCURACY = {"j1": 0.95, "j2": 0.9, "j3": 0.7, "j4": 0.6, "j5": 0.55}


def simulate(n_items: int, seed: int) -> tuple[list[list[Verdict]], list[int]]:
    """Binary items with a random right answer; each juror is right with its ``ACCURACY``."""
    rng = random.Random(seed)
    truth = [rng.randrange(2) for _ in range(n_items)]
    items = [
        [vote(juror, right if rng.random() < accuracy else 1 - right) for juror, accuracy in ACCURACY.items()]
        for right in truth
    ]
    return items, truth


needs_crowdkit = pytest.mark.skipif(
    importlib.util.find_spec("crowdkit") is None,
    reason="Dawid-Skene fitting needs crowd-kit: pip install 'agora[stats]'",
)


@needs_crowdkit
def test_dawid_skene_recovers_juror_reliabilities_and_beats_majority() -> None:
    items, truth = simulate(500, seed=0)
    model = fit_dawid_skene(items, 2)
    assert model.accuracy() == pytest.approx(ACCURACY, abs=0.05)
    for matrix in model.confusion.values():
        assert matrix.shape == (2, 2) and matrix.sum(axis=1) == pytest.approx([1, 1])
    assert model.posteriors.shape == (500, 2)
    ds_accuracy = np.mean(model.posteriors.argmax(axis=1) == truth)
    majority_accuracy = np.mean(
        [get_rule("majority")(verdicts, 2).outcome == right for verdicts, right in zip(items, truth, strict=True)]
    )
    assert ds_accuracy > majority_accuracy
    rule = get_rule("dawid_skene", model=model)
    decisions = [rule(verdicts, 2) for verdicts in items]
    assert [d.outcome for d in decisions] == model.posteriors.argmax(axis=1).tolist()
    assert [d.probability for d in decisions] == pytest.approx(model.posteriors.max(axis=1))


@needs_crowdkit
def test_dawid_skene_skips_abstentions_and_keeps_the_prior_for_an_empty_item() -> None:
    items, _ = simulate(100, seed=1)
    items[0] = [vote(v.judge, None) for v in items[0]]
    items[1][0] = vote("j1", None)
    model = fit_dawid_skene(items, 3)  # a third answer nobody chose
    assert model.prior[2] == 0 and model.posteriors[:, 2].max() < 1e-9
    assert model.posteriors[0] == pytest.approx(model.prior, abs=1e-9)
    assert all(matrix.shape == (3, 3) for matrix in model.confusion.values())


@needs_crowdkit
def test_dawid_skene_needs_votes_within_the_answers() -> None:
    with pytest.raises(ConfigError, match="no votes to fit"):
        fit_dawid_skene([ballot(None, None)], 2)
    with pytest.raises(ConfigError, match="a chose answer 3, outside the 2 answers"):
        fit_dawid_skene([ballot(3, A)], 2)
