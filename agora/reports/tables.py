"""The tables of a report as plain text cells, the same for Markdown and HTML: headline, paired comparisons,
agreement, robustness, ratings, the run's facts, and ``agora compare``'s side-by-side table."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from agora.aggregation.fitting import Fitted
from agora.aggregation.reliability import MISSING as MISSING_CROWDKIT
from agora.metrics.tournament import MIN_ROWS
from agora.metrics.types import (
    BelowGuess,
    Breakdown,
    CascadeStage,
    Estimate,
    FlagRate,
    Headline,
    JuryAgreement,
    Matchup,
    Paired,
    Rating,
    RatingTrend,
    Robustness,
    RunMetrics,
    SideWins,
)
from agora.reports.run import CompareRow, RunReport

MISSING = "–"


@dataclass(frozen=True)
class Table:
    """One table of a report, every cell already text.

    Attributes:
        anchor: the section's id in the HTML page.
        title: the section's heading.
        labels: how many leading columns are names; the others are figures (right-aligned in HTML).
    """

    anchor: str
    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    note: str = ""
    labels: int = 2


def number(value: float | None, digits: int = 2) -> str:
    """``0.42``; ``–`` for a missing or undefined value."""
    if value is None or math.isnan(value):
        return MISSING
    return f"{value:.{digits}f}"


def percent(value: float | None, digits: int = 1) -> str:
    """``42.0%``; ``–`` when missing."""
    return MISSING if value is None or math.isnan(value) else f"{100 * value:.{digits}f}%"


def interval(estimate: Estimate, *, as_percent: bool = True, digits: int = 1, signed: bool = False) -> str:
    """``72.0% [61.3, 81.0]``: the value with its 95% interval (left out when unknown)."""
    if estimate.value is None:
        return MISSING
    scale, unit = (100.0, "%") if as_percent else (1.0, "")
    sign = "+" if signed else ""
    text = f"{scale * estimate.value:{sign}.{digits}f}{unit}"
    if estimate.low is not None and estimate.high is not None:
        text += f" [{scale * estimate.low:{sign}.{digits}f}, {scale * estimate.high:{sign}.{digits}f}]"
    return text


def p_value(p: float | None) -> str:
    """``0.031``; ``< 0.001`` for tiny ones."""
    if p is None or math.isnan(p):
        return MISSING
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def facts(report: RunReport) -> list[tuple[str, str]]:
    """The run's facts, label and value: scenario, status, records, items, models, seed, git, when, where."""
    manifest = report.manifest
    scenario = manifest.get("scenario")
    described = scenario.get("description") if isinstance(scenario, dict) else None
    models = manifest.get("models")
    counts = report.counts()
    return [
        ("scenario", report.name + (f" — {described}" if described else "")),
        ("status", report.status + (" (partial)" if report.partial else "")),
        ("records", f"{len(report.records)} (ok {counts.get('ok', 0)}, error {counts.get('error', 0)})"),
        ("items", str(len(report.items))),
        ("malformed rows", str(len(report.malformed))),
        ("models", ", ".join(models) if isinstance(models, dict) and models else MISSING),
        ("seed", str(manifest.get("seed", MISSING))),
        ("git", str(manifest.get("git") or MISSING)),
        ("created", str(manifest.get("created") or MISSING)),
        ("finished", str(manifest.get("finished") or MISSING)),
        ("directory", str(report.directory)),
    ]


def partial_note(report: RunReport) -> str:
    """Why a report is partial, in one sentence, with how to finish the run."""
    why = {
        "running": "the run is still running",
        "interrupted": "the run was interrupted",
    }.get(report.status, "the run did not finish")
    return (
        f"Partial run: {why} (status {report.status}); the figures cover the {len(report.records)} tasks recorded "
        f"so far. Finish it with: agora resume {report.directory}"
    )


def metric_tables(metrics: RunMetrics) -> list[Table]:
    """The tables of one run's metrics: the headline, then those that have rows (the jurors' fitted reliability, the
    cascade's stages, accuracy by each metadata field, paired comparisons, agreement and each jury's κ, flags,
    confidence below a guess, robustness, ratings, a tournament's side wins and matchups)."""
    tables = [headline(metrics.headline)]
    if metrics.fitted:
        tables.append(reliability(metrics.fitted))
    if metrics.cascade:
        tables.append(cascade(metrics.cascade))
    tables += breakdowns(metrics.breakdown)
    if metrics.paired:
        tables.append(paired(metrics.paired))
    if metrics.agreement:
        tables.append(agreement(metrics.agreement))
        tables += [kappa(j, i) for i, j in enumerate(metrics.agreement)]
    if metrics.flags:
        tables.append(flags(metrics.flags))
    if metrics.below_guess:
        tables.append(below_guess(metrics.below_guess))
    if metrics.robustness:
        tables.append(robustness(metrics.robustness))
    if metrics.ratings:
        tables.append(ratings(metrics.ratings))
    if metrics.side_wins:
        tables.append(side_wins(metrics.side_wins))
    if metrics.matchups:
        tables.append(matchups(metrics.matchups, metrics.trends))
    return tables


def reliability(fitted: Fitted) -> Table:
    """Each juror's accuracy as the Dawid–Skene model fitted on each protocol's verdicts estimates it."""
    split = len({fit.protocol for fit in fitted.fits}) < len(fitted.fits)  # a protocol fitted per answer count
    rows = tuple(
        (f"{fit.protocol} ({fit.n_answers} answers)" if split else fit.protocol, juror, percent(value),
         str(len(fit.decisions)))
        for fit in fitted.fits
        for juror, value in fit.accuracy.items()
    )  # fmt: skip
    if fitted.made == "stored":
        when = "fitted when the run finished on the verdicts of every item of each protocol"
    else:
        records = sum(len(fit.decisions) for fit in fitted.fits)
        when = f"fitted for this report on the {records} records in the run store (a run stores its fit when it ends)"
    note = (
        f"Each juror's probability of stating the right answer, estimated by Dawid–Skene {when}, without gold. "
        "Judge “fitted decision” in the headline is the fitted model's decision under the jury's thresholds; the live "
        "“decision” was the provisional majority. Live checks are not run again for the fitted decision: their flags "
        "stay on the live one."
    )
    if fitted.made == "unavailable":
        note = f"This jury is fitted on its run's verdicts (rule dawid_skene). {MISSING_CROWDKIT}"
    header = ("protocol", "juror", "estimated accuracy", "items")
    return Table("reliability", "Juror reliability (Dawid–Skene)", header, rows, note)


def cascade(stages: Sequence[CascadeStage]) -> Table:
    """Per protocol and cascade stage: the items decided there, the accuracy of those decisions, and the cost."""
    rows = tuple(
        (s.protocol, str(s.stage), ", ".join(s.judges), str(s.reached), str(s.decided), percent(s.share),
         interval(s.accuracy), str(s.accuracy.n), per(s.calls, s.reached), per(s.tokens, s.reached, 0),
         per(s.spent_calls, s.decided), per(s.spent_tokens, s.decided, 0))
        for s in stages
    )  # fmt: skip
    header = ("protocol", "stage", "judges", "reached", "decided", "share", "accuracy [95% CI]", "with gold",
              "calls / item", "tokens / item", "calls to decide", "tokens to decide")  # fmt: skip
    note = (
        "An item stops at the first stage whose decision is conclusive with confidence at least the stage's "
        "accept_confidence; the last stage decides the rest. Reached: items that came to the stage; decided, share: "
        "those it decided, of the protocol's items. Accuracy: of its decisions on the items with gold (an "
        "inconclusive one is not right), 95% bootstrap interval. Calls and tokens per item: of the stage's jurors' "
        "verdicts, per item that reached it; to decide: of every stage the items decided there went through, per "
        "such item. Calls made outside the verdicts (a consultant's turns, a judge's questions) are not counted."
    )
    return Table("cascade", "Cascade", header, rows, note, labels=3)


def per(total: int, n: int, digits: int = 1) -> str:
    """``total / n`` with ``digits`` decimals; ``–`` when ``n`` is 0."""
    return number(total / n, digits) if n else MISSING


def breakdowns(rows: Sequence[Breakdown]) -> list[Table]:
    """One table per metadata field (or the data source): accuracy per protocol, judge and value."""
    fields = list(dict.fromkeys(r.by for r in rows))
    note = (
        "Accuracy as in the headline, on the items with each value (items without the field are left out), 95% "
        "bootstrap interval; small groups give wide intervals."
    )
    return [
        Table(
            f"breakdown-{i}",
            f"Accuracy by {by}",
            ("protocol", "judge", by, "accuracy [95% CI]", "n"),
            tuple((r.protocol, r.judge, r.value, interval(r.accuracy), str(r.accuracy.n)) for r in rows if r.by == by),
            note,
            labels=3,
        )
        for i, by in enumerate(fields)
    ]


def flags(rates: Sequence[FlagRate]) -> Table:
    """How often each protocol's decisions carry a flag of each live check or threshold."""
    rows = tuple((r.protocol, r.check, interval(r.rate), str(r.count), str(r.rate.n)) for r in rates)
    header = ("protocol", "check", "decisions flagged [95% CI]", "flagged", "decisions")
    note = (
        "Share of each protocol's decisions that carry a flag of each live check or threshold (the flag's text up to "
        "its first “:”, so one decision counts once per check), 95% bootstrap interval."
    )
    return Table("flags", "Flags on the decisions", header, rows, note)


def below_guess(counts: Sequence[BelowGuess]) -> Table:
    """Per protocol and judge, the verdicts stated with less confidence than a blind guess."""
    rows = tuple((c.protocol, c.judge, str(c.below), str(c.n), percent(c.below / c.n if c.n else None)) for c in counts)
    note = (
        "Verdicts (each judge's last on an item, with a choice) whose stated confidence in the answer chosen is below "
        "a blind guess, 100 / the number of answers: the judge calls its own choice less likely than a random pick, "
        "most likely reading “confidence” as something else. Its calibration figures then measure that misreading."
    )
    header = ("protocol", "judge", "below a guess", "verdicts", "share")
    return Table("below-guess", "Confidence below a blind guess", header, rows, note)


def paired(comparisons: Sequence[Paired]) -> Table:
    """Each pair of protocols under each judge: the accuracy difference and McNemar's test."""
    rows = tuple(
        (p.judge, p.a, p.b, interval(p.difference, signed=True), p_value(p.mcnemar_p), str(p.a_only), str(p.b_only),
         str(p.difference.n))
        for p in comparisons
    )  # fmt: skip
    header = ("judge", "A", "B", "A − B [95% CI]", "McNemar p", "only A right", "only B right", "n")
    note = (
        "Accuracy of protocol A minus protocol B on the items both have a result for, an undecided item counting as "
        "not right (paired bootstrap 95% interval); McNemar's exact test on the items only one of them got right."
    )
    return Table("paired", "Paired comparisons", header, rows, note, labels=3)


def agreement(juries: Sequence[JuryAgreement]) -> Table:
    """Agreement among the judges of each protocol."""
    rows = tuple(
        (j.protocol, ", ".join(j.judges), number(j.fleiss_kappa), number(j.krippendorff_alpha),
         percent(j.percent_agreement), str(j.n))
        for j in juries
    )  # fmt: skip
    header = ("protocol", "judges", "Fleiss κ", "Krippendorff α", "agreement", "n")
    return Table("agreement", "Agreement between judges", header, rows)


def robustness(rates: Sequence[Robustness]) -> Table:
    """How often each judge fell for each probe."""
    rows = tuple((r.check, r.judge, interval(r.rate), str(r.rate.n), str(r.skipped)) for r in rates)
    header = ("check", "judge", "fell for it [95% CI]", "n", "skipped")
    note = "How often each judge changed its verdict, or was fooled, under each probe."
    return Table("robustness", "Robustness", header, rows, note)


def ratings(players: Sequence[Rating]) -> Table:
    """Each player's (debater model's, or speaker's) Elo and Bradley-Terry strength."""
    rows = tuple(
        (r.player, interval(r.elo, as_percent=False, digits=0), interval(r.bradley_terry, as_percent=False, digits=2),
         str(r.matches))
        for r in players
    )  # fmt: skip
    header = ("player", "Elo [95% CI]", "Bradley–Terry [95% CI]", "matches")
    note = (
        "Debaters rated on the debates a decision settled: the winner argued the answer decided. In a tournament the "
        "players are the debater models, each arguing every side in turn (a model against itself plays no match); "
        "otherwise they are the speakers, and the ratings rate seats and the sides they were given. Elo: median over "
        "bootstrap resamples of the matches; 95% percentile intervals."
    )
    return Table("ratings", "Ratings", header, rows, note, labels=1)


def side_wins(rows: Sequence[SideWins]) -> Table:
    """Per protocol and debater model of a tournament: how often the decision went to its side, right and wrong."""
    cells = tuple(
        (r.protocol, r.model, interval(r.right), str(r.right.n), interval(r.wrong), str(r.wrong.n)) for r in rows
    )
    header = ("protocol", "model", "right-side win rate [95% CI]", "n right", "wrong-side win rate [95% CI]", "n wrong")
    note = (
        "Right side: of the tasks where the model argued the right answer, the share the decision went to it (an "
        "undecided one is not won). Wrong side: of those where it argued a wrong answer, the share it persuaded the "
        "judge of it. 95% bootstrap intervals."
    )
    return Table("side-wins", "Side wins by model", header, cells, note)


def matchups(rows: Sequence[Matchup], trends: Sequence[RatingTrend]) -> Table:
    """Per protocol and pair of right-side and wrong-side models of a tournament: the judge's accuracy, beside each
    side's Elo, and per protocol the correlation of the two."""
    cells = tuple(
        (m.protocol, m.right or MISSING, m.wrong or MISSING, number(m.elo_right, 0), number(m.elo_wrong, 0),
         interval(m.accuracy), str(m.accuracy.n))
        for m in rows
    )  # fmt: skip
    header = ("protocol", "right side", "wrong side", "Elo right", "Elo wrong", "judge accuracy [95% CI]", "n")
    found = "; ".join(f"{t.protocol} r = {number(t.r)} over {t.rows} matchups" for t in trends)
    note = (
        "Accuracy of the seat's decision on the tasks where the right side's model argued the right answer against "
        "the wrong side's (an undecided decision is not right), 95% bootstrap interval; Elo from the ratings. Do "
        "stronger debaters help the judge find the truth? Pearson's r between Elo right − Elo wrong and judge "
        f"accuracy, over the matchups rated on both sides (– with fewer than {MIN_ROWS} or no spread): "
        f"{found or MISSING}."
    )
    return Table("matchups", "Judge accuracy by matchup", header, cells, note, labels=3)


def headline(rows: Sequence[Headline]) -> Table:
    """The headline table: per protocol and judge, accuracy with its interval, κ, calibration and coverage; the
    persona and model columns only when they tell more than the judge's name."""
    personas = any(r.persona and r.persona != r.judge for r in rows)
    models = len({r.model for r in rows if r.model}) > 1
    thresholds = ", ".join(f"{t:g}" for t in sorted({r.threshold for r in rows}))
    header = ["protocol", "judge", *(["persona"] if personas else []), *(["model"] if models else [])]
    labels = len(header)
    header += ["accuracy [95% CI]", "κ vs gold", "agreement", "ECE", "Brier", f"coverage ≥{thresholds}"]
    header += ["selective accuracy", "n", "errors"]
    cells = []
    for r in rows:
        names = [r.protocol, r.judge, *([r.persona or MISSING] if personas else []), *([r.model or MISSING] * models)]
        cells.append(
            (*names, interval(r.accuracy), number(r.kappa), percent(r.percent_agreement),
             number(r.calibration.ece, 3), number(r.calibration.brier, 3), percent(r.coverage),
             percent(r.selective_accuracy), str(r.n), str(r.errors))
        )  # fmt: skip
    note = (
        "Accuracy: share of the items with gold that the judge got right (an abstention or an inconclusive decision "
        "is not right), 95% bootstrap interval; judge “decision” is the seat's decision. κ: Cohen's kappa of the "
        "decided items against gold; agreement: the share of them that agree with gold. ECE, Brier: calibration of "
        "the stated confidence. Coverage: share of items decided with stated confidence (0-100) "
        f"≥{thresholds or MISSING}; selective accuracy: accuracy on those."
    )
    if not rows:
        note = "No item with a gold answer has a result yet."
    return Table("headline", "Headline", tuple(header), tuple(cells), note, labels=labels)


def kappa(jury: JuryAgreement, index: int) -> Table:
    """The pairwise Cohen's κ matrix of one jury."""
    rows = [
        (judge, *(number(v) for v in values)) for judge, values in zip(jury.judges, jury.pairwise_kappa, strict=True)
    ]
    title = f"Cohen's κ between the judges of {jury.protocol}"
    return Table(f"kappa-{index}", title, ("κ", *jury.judges), tuple(rows), labels=1)


def side_by_side(rows: Sequence[CompareRow]) -> Table:
    """``agora compare``'s table: each protocol and judge in run A and run B, with the paired difference."""
    header = ("protocol", "judge", "accuracy A", "accuracy B", "A − B [95% CI]", "McNemar p", "only A right",
              "only B right", "common n", "κ A", "κ B", "ECE A", "ECE B")  # fmt: skip
    cells = []
    for row in rows:
        a, b, pair = row.a, row.b, row.paired
        cells.append(
            (row.protocol, row.judge,
             interval(a.accuracy) if a else "absent", interval(b.accuracy) if b else "absent",
             interval(pair.difference, signed=True) if pair else MISSING,
             p_value(pair.mcnemar_p) if pair else MISSING,
             str(pair.a_only) if pair else MISSING, str(pair.b_only) if pair else MISSING,
             str(pair.difference.n) if pair else MISSING,
             number(a.kappa) if a else MISSING, number(b.kappa) if b else MISSING,
             number(a.calibration.ece, 3) if a else MISSING, number(b.calibration.ece, 3) if b else MISSING)
        )  # fmt: skip
    note = (
        "A − B: accuracy of run A minus run B on the items both runs have a result for, an undecided item counting "
        "as not right (paired bootstrap 95% interval); McNemar's exact test on the items only one run got right."
    )
    return Table("side-by-side", "Side by side", header, tuple(cells), note)


def both_facts(a: RunReport, b: RunReport) -> Table:
    """The facts of two runs side by side."""
    facts_b = dict(facts(b))
    rows = tuple((label, value, facts_b.get(label, MISSING)) for label, value in facts(a))
    return Table("runs", "Runs", ("", "run A", "run B"), rows, labels=3)
