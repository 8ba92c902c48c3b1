"""Stated confidence below a blind guess: a judge that gives the answer it chose less than 100/n (n answers) says
that its own choice is less likely than a pick at random. It has most likely read "confidence" as something else,
such as the chance that a claim is true, and its calibration figures measure that misreading."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from agora.metrics.types import BelowGuess
from agora.runner.record import Record


def below_guess(records: Iterable[Record], answers: Mapping[str, int]) -> tuple[BelowGuess, ...]:
    """Per protocol and judge, in first-seen order: of each judge's last verdict on each item that chose an answer,
    how many stated a confidence below ``100 / n``; ``answers`` gives each item's number of answers ``n`` (else the
    decision's number of votes)."""
    counts: dict[tuple[str, str], list[int]] = {}
    for record in records:
        n_answers = answers.get(record.item) or (len(record.decision.votes) if record.decision else 0)
        if record.status != "ok" or not n_answers:
            continue
        for verdict in {v.judge: v for v in record.verdicts}.values():
            if verdict.choice is None or verdict.abstained:
                continue
            count = counts.setdefault((record.protocol, verdict.judge), [0, 0])
            count[0] += verdict.confidence < 100 / n_answers
            count[1] += 1
    return tuple(BelowGuess(protocol, judge, below, n) for (protocol, judge), (below, n) in counts.items())
