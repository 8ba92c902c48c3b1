"""What the metrics of a run are: plain frozen values that reports render and ``agora compare`` sets side by side."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agora.aggregation.fitting import Fitted


@dataclass(frozen=True)
class Estimate:
    """A statistic with its bootstrap confidence interval (``low``/``high`` ``None`` when ``n`` is too small)."""

    value: float | None
    low: float | None
    high: float | None
    n: int


@dataclass(frozen=True)
class Bin:
    """One bin of a reliability diagram: stated confidence (0-1) against observed accuracy."""

    lower: float
    upper: float
    mean_confidence: float | None
    accuracy: float | None
    n: int


@dataclass(frozen=True)
class Calibration:
    """Calibration of stated confidence: expected calibration error, Brier score, the diagram's bins."""

    ece: float | None
    brier: float | None
    bins: tuple[Bin, ...]
    n: int


@dataclass(frozen=True)
class RiskCoverage:
    """Selective accuracy and coverage at each confidence threshold, and the area under the risk-coverage curve."""

    thresholds: tuple[float, ...]
    coverage: tuple[float, ...]
    selective_accuracy: tuple[float | None, ...]
    aurc: float | None


@dataclass(frozen=True)
class Paired:
    """A paired comparison of two protocols on the same items: ``a - b`` accuracy with its paired-bootstrap
    interval, and McNemar's exact test on the discordant pairs (``a_only`` right only under a, ``b_only``)."""

    a: str
    b: str
    judge: str
    difference: Estimate
    mcnemar_p: float | None
    a_only: int
    b_only: int


@dataclass(frozen=True)
class Headline:
    """One row of the headline table: a protocol judged by one judge (or the seat's ``decision``)."""

    protocol: str
    judge: str
    persona: str | None
    model: str | None
    n: int
    accuracy: Estimate
    kappa: float | None  # Cohen's kappa against gold
    percent_agreement: float | None  # with gold, for contrast with kappa
    calibration: Calibration
    risk_coverage: RiskCoverage
    coverage: float | None  # at ``threshold``
    selective_accuracy: float | None  # at ``threshold``
    threshold: float
    errors: int


@dataclass(frozen=True)
class JuryAgreement:
    """Agreement among the judges of one protocol: Fleiss' kappa, Krippendorff's alpha, pairwise Cohen's kappa."""

    protocol: str
    judges: tuple[str, ...]
    fleiss_kappa: float | None
    krippendorff_alpha: float | None
    pairwise_kappa: tuple[tuple[float | None, ...], ...]  # judges x judges
    percent_agreement: float | None
    n: int


@dataclass(frozen=True)
class Robustness:
    """How often one judge fell for one probe (check)."""

    check: str
    judge: str
    rate: Estimate
    skipped: int


@dataclass(frozen=True)
class Rating:
    """A player's (a debater's or a model's) Elo and Bradley-Terry strength, with bootstrap intervals."""

    player: str
    elo: Estimate
    bradley_terry: Estimate
    matches: int


@dataclass(frozen=True)
class SideWins:
    """How often the decision under one protocol of a tournament went to the side one debater model argued.

    Attributes:
        right: of the tasks where the model argued the right answer, the share the decision went to it (an undecided
            one is not won): how well the truth wins with this model arguing it.
        wrong: of the tasks where it argued a wrong answer, the share the decision went to it: how often it persuaded
            the judge of a falsehood.
    """

    protocol: str
    model: str
    right: Estimate
    wrong: Estimate


@dataclass(frozen=True)
class Matchup:
    """The seat's decision on the tasks of one protocol of a tournament where ``right`` argued the right answer
    against ``wrong`` (the wrong sides' models joined by `` + ``; ``None`` for the side a consultancy lacks), with each
    side's Elo from the run's ratings (``None`` when the side has none)."""

    protocol: str
    right: str | None
    wrong: str | None
    elo_right: float | None
    elo_wrong: float | None
    accuracy: Estimate


@dataclass(frozen=True)
class RatingTrend:
    """Whether stronger debaters help the judge under one protocol: Pearson's ``r`` between the Elo lead of the right
    side (Elo right − Elo wrong) and the judge's accuracy over the ``rows`` matchups rated on both sides (``None``
    with fewer than three, or when either does not vary)."""

    protocol: str
    r: float | None
    rows: int


@dataclass(frozen=True)
class Breakdown:
    """Accuracy of one judge under one protocol on the items whose metadata field ``by`` (or data source) is
    ``value``."""

    by: str
    value: str
    protocol: str
    judge: str
    accuracy: Estimate


@dataclass(frozen=True)
class FlagRate:
    """How often the decisions of one protocol carry a flag of one check (the flag's text before the first ``:``):
    ``count`` decisions flagged, ``rate`` that count over the protocol's decisions."""

    protocol: str
    check: str
    count: int
    rate: Estimate


@dataclass(frozen=True)
class BelowGuess:
    """Of the ``n`` verdicts of one judge under one protocol that chose an answer, the ``below`` ones that gave it
    less confidence than a blind guess would (100 / the number of answers)."""

    protocol: str
    judge: str
    below: int
    n: int


@dataclass(frozen=True)
class CascadeStage:
    """One stage of a cascade under one protocol.

    Attributes:
        reached: items that came to this stage (decided here or later).
        decided: items decided here; ``share`` of the protocol's items decided by the cascade.
        accuracy: of the decisions made here, on the items with gold (an inconclusive one is not right).
        calls, tokens: model calls and tokens of this stage's jurors' verdicts, over the items that reached it.
        spent_calls, spent_tokens: those of every stage's verdicts on the items decided here.
    """

    protocol: str
    stage: int
    judges: tuple[str, ...]
    reached: int
    decided: int
    share: float
    accuracy: Estimate
    calls: int
    tokens: int
    spent_calls: int
    spent_tokens: int


@dataclass(frozen=True)
class RunMetrics:
    """Everything ``agora report`` shows about one run."""

    name: str
    partial: bool  # the run was still running, interrupted or crashed: some tasks have no record
    tasks: int  # records read
    errors: int
    headline: tuple[Headline, ...]
    paired: tuple[Paired, ...]
    agreement: tuple[JuryAgreement, ...]
    robustness: tuple[Robustness, ...]
    ratings: tuple[Rating, ...]
    manifest: dict[str, object] = field(default_factory=dict)
    breakdown: tuple[Breakdown, ...] = ()
    flags: tuple[FlagRate, ...] = ()
    below_guess: tuple[BelowGuess, ...] = ()
    fitted: Fitted | None = None  # the Dawid–Skene fits of a jury fitted on its run; None for other juries
    cascade: tuple[CascadeStage, ...] = ()  # per protocol and stage, when the judges sit in a cascade
    side_wins: tuple[SideWins, ...] = ()  # per protocol and debater model of a tournament
    matchups: tuple[Matchup, ...] = ()  # per protocol and pair of right-side and wrong-side models of a tournament
    trends: tuple[RatingTrend, ...] = ()  # per protocol of a tournament with matchups rated on both sides
