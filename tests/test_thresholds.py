"""Verbal-uncertainty thresholds: abstention, quorum, margin, failed jurors and the coverage sweep."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from functools import partial

import pytest

from agora.agents.juror import Juror
from agora.aggregation.thresholds import SweepPoint, Thresholds, decide, sit, sweep
from agora.aggregation.voting import tally
from agora.backends.scripted import ScriptedBackend
from agora.errors import BackendTimeout, ConfigError, ExecutionError, VerdictParseError
from agora.state import View
from agora.types import Decision, Verdict
from tests.fixtures.verdicts import vote as shared_vote

SEEN = View(question="Is the sky blue?", answers=("Yes", "No"))
vote = partial(shared_vote, verb="thinks")  # this file's reasoning: "a thinks 0"


def plurality(verdicts: Sequence[Verdict], n_answers: int) -> Decision:
    """The unique top answer wins, whatever its share: a rule passed as a callable."""
    return tally(verdicts, n_answers, "plurality")


def replying(letter: str, confidence: int = 80) -> ScriptedBackend:
    """A juror backend that always chooses ``letter``."""
    reply = json.dumps({"reasoning": f"It is {letter}.", "answer": letter, "confidence": confidence})
    return ScriptedBackend(lambda messages: reply, model=f"says-{letter}")


def garbage() -> ScriptedBackend:
    """A juror backend whose replies never parse, so its juror raises ``VerdictParseError``."""
    return ScriptedBackend(lambda messages: "I refuse to answer in JSON.", model="garbage")


class Failing:
    """A juror that raises ``error``."""

    def __init__(self, name: str, error: Exception) -> None:
        self.name = name
        self.model = ScriptedBackend([], model="failing")
        self.error = error

    async def decide(self, seen: View) -> Verdict:
        raise self.error


class Stalling:
    """A juror that never answers; records whether it was cancelled."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.model = ScriptedBackend([], model="stalling")
        self.cancelled = False

    async def decide(self, seen: View) -> Verdict:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        raise AssertionError("unreachable")


# --- Thresholds ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"min_confidence": -1}, "min_confidence"),
        ({"min_confidence": 101}, "min_confidence"),
        ({"quorum": 0}, "quorum"),
        ({"quorum": 1.5}, "quorum"),
        ({"quorum": True}, "quorum"),
        ({"margin": -0.1}, "margin"),
        ({"margin": 1.5}, "margin"),
        ({"on_failure": "retry"}, "on_failure"),
        ({"min_probability": -0.1}, "min_probability"),
        ({"min_probability": 1.2}, "min_probability"),
    ],
)
def test_invalid_thresholds_are_config_errors_naming_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError, match=field) as caught:
        Thresholds(**kwargs)  # type: ignore[arg-type]
    assert "\n" not in str(caught.value)


def test_thresholds_are_frozen() -> None:
    with pytest.raises(AttributeError):
        Thresholds().quorum = 3  # type: ignore[misc]


# --- decide -------------------------------------------------------------------------------------------------


def test_below_min_confidence_abstains_exactly_at_it_votes() -> None:
    verdicts = [vote("a", 0, 80), vote("b", 0, 60), vote("c", 1, 59.9), vote("d", 1, 50)]
    assert decide(verdicts, 2, "majority", Thresholds()).outcome == "inconclusive"  # a 2-2 tie without a threshold

    decision = decide(verdicts, 2, "majority", Thresholds(min_confidence=60))

    assert decision.outcome == 0
    assert decision.votes == [2.0, 0.0]
    assert decision.abstained == ["c", "d"]
    assert decision.flags == ["low-confidence:c", "low-confidence:d"]
    assert decision.confidence == 70  # mean of a (80) and b (60): b, exactly at the threshold, voted
    assert decision.dissent == []
    assert verdicts[2].choice == 1 and not verdicts[2].abstained  # the caller's verdicts are untouched


def test_below_min_probability_or_without_one_abstains_exactly_at_it_votes() -> None:
    def sure(judge: str, choice: int, probability: float | None, confidence: float = 95) -> Verdict:
        return vote(judge, choice, confidence).model_copy(update={"probability": probability})

    verdicts = [sure("a", 1, 0.9), sure("b", 1, 0.75), sure("c", 0, 0.74), sure("d", 0, None), sure("e", 0, 0.99, 40)]
    assert decide(verdicts, 2, "majority", Thresholds()).outcome == 0  # 3 to 2 when every juror votes

    decision = decide(verdicts, 2, "majority", Thresholds(min_probability=0.75, min_confidence=50))

    assert decision.outcome == 1 and decision.votes == [0.0, 2.0]
    assert decision.abstained == ["c", "d", "e"]
    assert decision.flags == ["low-confidence:e", "low-probability:c", "low-probability:d"]  # each named once
    everyone_unsure = decide(verdicts[2:4], 2, "majority", Thresholds(min_probability=0.75))
    assert everyone_unsure.outcome == "inconclusive" and "quorum" in everyone_unsure.flags


def test_quorum_met_and_not_met() -> None:
    verdicts = [vote("a", 0, 90), vote("b", 0, 80), vote("c", 0, 10)]

    met = decide(verdicts, 2, "majority", Thresholds(min_confidence=50, quorum=2))
    missed = decide(verdicts, 2, "majority", Thresholds(min_confidence=50, quorum=3))

    assert met.outcome == 0
    assert met.flags == ["low-confidence:c"]
    assert missed.outcome == "inconclusive"
    assert missed.flags == ["low-confidence:c", "quorum"]
    assert missed.votes == [2.0, 0.0]
    assert missed.confidence is None
    assert missed.dissent == ["a: a thinks 0", "b: b thinks 0"]


def test_margin_is_a_share_of_votes_cast_and_its_boundary_clears() -> None:
    verdicts = [vote("a", 0, 90), vote("b", 0, 90), vote("c", 0, 90), vote("d", 1, 90)]  # lead (3 - 1) / 4

    cleared = decide(verdicts, 2, "majority", Thresholds(margin=0.5))
    narrow = decide(verdicts, 2, "majority", Thresholds(margin=0.51))

    assert cleared.outcome == 0
    assert cleared.flags == []
    assert cleared.dissent == ["d: d thinks 1"]
    assert narrow.outcome == "inconclusive"
    assert narrow.flags == ["margin"]
    assert narrow.confidence is None


def test_margin_is_over_the_runner_up_not_every_other_answer() -> None:
    verdicts = [vote(f"j{i}", choice, 90) for i, choice in enumerate([0, 0, 0, 1, 1, 2])]  # lead (3 - 2) / 6

    assert decide(verdicts, 3, plurality, Thresholds(margin=1 / 6)).outcome == 0
    decision = decide(verdicts, 3, plurality, Thresholds(margin=0.2))
    assert decision.outcome == "inconclusive"
    assert decision.rule == "plurality"
    assert decision.flags == ["margin"]


def test_margin_counts_after_low_confidence_abstentions() -> None:
    verdicts = [vote("a", 0, 90), vote("b", 0, 90), vote("c", 1, 90), vote("d", 1, 20), vote("e", 1, 20)]

    assert decide(verdicts, 3, plurality, Thresholds(margin=0.3)).outcome == "inconclusive"  # 2-3 for answer 1
    decision = decide(verdicts, 3, plurality, Thresholds(min_confidence=50, margin=0.3))  # 2-1: lead 1/3
    assert decision.outcome == 0
    assert decision.flags == ["low-confidence:d", "low-confidence:e"]


def test_all_abstaining_is_inconclusive_with_a_quorum_flag() -> None:
    verdicts = [vote("a", None, 0), vote("b", 0, 30), vote("c", 1, 40)]

    decision = decide(verdicts, 2, "majority", Thresholds(min_confidence=50))

    assert decision.outcome == "inconclusive"
    assert decision.votes == [0.0, 0.0]
    assert decision.abstained == ["a", "b", "c"]
    assert decision.flags == ["low-confidence:b", "low-confidence:c", "quorum"]  # a abstained by itself


# --- sit: failed jurors -------------------------------------------------------------------------------------


async def test_a_failed_juror_abstains() -> None:
    spare = replying("B")
    jurors = [
        Juror(replying("A"), name="juror_1"),
        Juror(garbage(), name="juror_2"),
        Juror(replying("B"), name="juror_3"),
    ]

    verdicts = await sit(jurors, [Juror(spare, name="spare_1")], SEEN, Thresholds(quorum=3))

    assert [v.judge for v in verdicts] == ["juror_1", "juror_2", "juror_3"]
    failed = verdicts[1]
    assert failed.abstained and failed.choice is None and failed.confidence == 0
    assert failed.reasoning.startswith("VerdictParseError: ")
    assert failed.model == jurors[1].model.spec
    assert spare.calls == []
    decision = decide(verdicts, 2, "majority", Thresholds(quorum=3))
    assert decision.outcome == "inconclusive"
    assert decision.flags == ["quorum"]
    assert decision.abstained == ["juror_2"]


async def test_a_failed_juror_is_replaced_by_a_spare() -> None:
    spare = replying("B")
    jurors = [
        Juror(replying("A"), name="juror_1"),
        Juror(garbage(), name="juror_2"),
        Juror(replying("B"), name="juror_3"),
    ]
    policy = Thresholds(quorum=3, on_failure="replace")

    verdicts = await sit(jurors, [Juror(spare, name="spare_1"), Juror(replying("A"), name="spare_2")], SEEN, policy)

    assert [v.judge for v in verdicts] == ["juror_1", "spare_1 for juror_2", "juror_3"]
    assert verdicts[1].choice == 1 and verdicts[1].model == spare.spec
    assert len(spare.calls) == 1
    decision = decide(verdicts, 2, "majority", policy)
    assert decision.outcome == 1
    assert decision.votes == [1.0, 2.0]


async def test_a_failing_spare_gives_way_to_the_next() -> None:
    spares = [Juror(garbage(), name="spare_1"), Juror(replying("A"), name="spare_2")]

    verdicts = await sit([Juror(garbage(), name="juror_1")], spares, SEEN, Thresholds(on_failure="replace"))

    assert [(v.judge, v.choice) for v in verdicts] == [("spare_2 for juror_1", 0)]


async def test_the_seat_abstains_when_the_spares_run_out() -> None:
    spare = garbage()

    verdicts = await sit(
        [Juror(garbage(), name="juror_1")], [Juror(spare, name="spare_1")], SEEN, Thresholds(on_failure="replace")
    )

    assert verdicts[0].judge == "spare_1 for juror_1"
    assert verdicts[0].abstained and verdicts[0].reasoning.startswith("VerdictParseError: ")
    assert verdicts[0].model == spare.spec


async def test_each_spare_takes_one_seat() -> None:
    jurors = [Juror(garbage(), name="juror_1"), Juror(garbage(), name="juror_2")]

    verdicts = await sit(jurors, [Juror(replying("B"), name="spare_1")], SEEN, Thresholds(on_failure="replace"))

    replaced = [v for v in verdicts if v.judge.startswith("spare_1 for ")]
    abstaining = [v for v in verdicts if v.abstained]
    assert len(replaced) == 1 and replaced[0].choice == 1
    assert len(abstaining) == 1 and abstaining[0].judge in {"juror_1", "juror_2"}


@pytest.mark.parametrize(
    "error",
    [
        VerdictParseError("no verdict", raw="?", attempts=3),
        BackendTimeout("timed out after 300 s"),
        ExecutionError("script exhausted"),
    ],
)
async def test_every_execution_error_is_a_failure(error: ExecutionError) -> None:
    verdicts = await sit([Failing("juror_1", error)], [], SEEN, Thresholds(on_failure="replace"))

    assert verdicts[0].abstained
    assert verdicts[0].reasoning == f"{type(error).__name__}: {error}"
    assert verdicts[0].model == "scripted:failing"


async def test_a_config_error_propagates_and_is_not_replaced() -> None:
    spare = replying("A")
    with pytest.raises(ConfigError, match="between 2 and"):
        await sit(
            [Juror(replying("A"), name="juror_1")],
            [Juror(spare, name="spare_1")],
            View(question="Only one answer?", answers=("Yes",)),
            Thresholds(on_failure="replace"),
        )
    assert spare.calls == []


async def test_a_config_error_cancels_the_other_jurors() -> None:
    stalling = Stalling("juror_2")

    with pytest.raises(ConfigError, match="bad persona"):
        await sit([Failing("juror_1", ConfigError("bad persona")), stalling], [], SEEN, Thresholds())
    await asyncio.sleep(0)

    assert stalling.cancelled


# --- sweep --------------------------------------------------------------------------------------------------

# High-confidence verdicts are right, low-confidence ones wrong. Decisions by threshold (majority rule):
#           label   verdicts (choice@confidence)   t=0   t=50   t=75   t=95
#   item A  0       0@90 0@80 1@20                 0 ✓   0 ✓    0 ✓    -
#   item B  1       1@85 0@40 0@30                 0 ✗   1 ✓    1 ✓    -
#   item C  0       1@60 1@55 0@45                 1 ✗   1 ✗    -      -
#   item D  1       0@40 0@35 1@30                 0 ✗   -      -      -
#   item E  0       0@99 1@70 0@50                 0 ✓   0 ✓    0 ✓    0 ✓
LABELLED = [
    ([vote("a", 0, 90), vote("b", 0, 80), vote("c", 1, 20)], 0),
    ([vote("a", 1, 85), vote("b", 0, 40), vote("c", 0, 30)], 1),
    ([vote("a", 1, 60), vote("b", 1, 55), vote("c", 0, 45)], 0),
    ([vote("a", 0, 40), vote("b", 0, 35), vote("c", 1, 30)], 1),
    ([vote("a", 0, 99), vote("b", 1, 70), vote("c", 0, 50)], 0),
]


def test_sweep_trades_coverage_for_selective_accuracy() -> None:
    points = sweep(LABELLED, 2, "majority", [0, 50, 75, 95, 100])

    assert points == [
        SweepPoint(min_confidence=0, items=5, decided=5, correct=2),
        SweepPoint(min_confidence=50, items=5, decided=4, correct=3),
        SweepPoint(min_confidence=75, items=5, decided=3, correct=3),
        SweepPoint(min_confidence=95, items=5, decided=1, correct=1),
        SweepPoint(min_confidence=100, items=5, decided=0, correct=0),
    ]
    assert (points[1].coverage, points[1].selective_accuracy) == (0.8, 0.75)
    assert (points[2].coverage, points[2].selective_accuracy) == (0.6, 1.0)
    assert points[0].selective_accuracy == 0.4
    assert points[-1].coverage == 0 and points[-1].selective_accuracy is None
    coverage = [p.coverage for p in points]
    accuracy = [p.selective_accuracy for p in points[:-1]]
    assert coverage == sorted(coverage, reverse=True) and len(set(coverage)) == len(coverage)
    assert accuracy == sorted(accuracy)  # type: ignore[type-var]


@pytest.mark.parametrize(
    ("labelled", "message"),
    [([], "no labelled items"), ([([vote("a", 0, 90)], 2)], "item 0 is labelled 2")],
)
def test_sweep_rejects_bad_datasets(labelled: list[tuple[list[Verdict], int]], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        sweep(labelled, 2, "majority", [0])


def test_sweep_rejects_a_bad_threshold() -> None:
    with pytest.raises(ConfigError, match="min_confidence"):
        sweep(LABELLED, 2, "majority", [150])
