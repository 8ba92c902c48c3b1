"""Self-consistency: K readings, each with its own seed; the majority choice, with the samples' agreement as the
confidence (J1-style test-time scaling)."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from statistics import fmean
from typing import Any

from agora.types import Usage, Verdict


def sample_seed(seed: int | None, index: int) -> int:
    """The seed of sample ``index`` of a judge seeded with ``seed``: the seed itself for the first sample (so one
    sample is the plain reading), a stable hash of both for the others and when the judge has no seed."""
    if index == 0 and seed is not None:
        return seed
    digest = hashlib.sha256(f"{seed}\x1fsample {index}".encode()).digest()
    return int.from_bytes(digest[:4], "big") >> 1


def chance(verdict: Verdict, answer: int, n_answers: int) -> float | None:
    """The probability a verdict gives ``answer``: its ``probability`` for its choice, the rest shared evenly by the
    other answers; None when it has none."""
    if verdict.probability is None or verdict.choice is None:
        return None
    if answer == verdict.choice:
        return verdict.probability
    return (1 - verdict.probability) / (n_answers - 1)


def mean_scores(readings: Sequence[Verdict]) -> list[float] | None:
    """Each answer's mean score over ``readings``, when every one of them scored the answers."""
    rows = [r.scores for r in readings]
    if not rows or any(row is None for row in rows):
        return None
    return [fmean(column) for column in zip(*rows, strict=True)]


def total_usage(readings: Sequence[Verdict]) -> Usage:
    """The usage of all the readings together."""
    usage = Usage()
    for r in readings:
        usage = usage + r.usage
    return usage


def undecided(verdict: Verdict, reason: str, flags: list[str], update: dict[str, Any]) -> Verdict:
    """``verdict`` made undecided by a method (no choice, abstained, confidence 0), with ``update`` applied."""
    return verdict.model_copy(
        update={
            **update,
            "choice": None,
            "abstained": True,
            "confidence": 0.0,
            "probability": None,
            "reasoning": reason,
            "flags": flags,
        }
    )


def consensus(readings: Sequence[Verdict], n_answers: int) -> Verdict:
    """One verdict from the samples: the majority choice, undecided on a tie; confidence is the share of samples
    that chose it (0-100). Failed samples (``error``) count as not choosing; when all failed, the first failure."""
    usable = [r for r in readings if r.error is None]
    if not usable:
        return readings[0]
    counts = Counter(r.choice for r in usable if r.choice is not None)
    top = counts.most_common(2)
    first = usable[0]  # an undecided consensus is not a failure: it carries no sample's error
    flags = [f"{len(readings) - len(usable)} of {len(readings)} samples failed"] if len(usable) < len(readings) else []
    base = {
        "usage": total_usage(readings),
        "attempts": sum(r.attempts for r in readings),
        "readings": list(readings),
        "scores": mean_scores(usable),
        "method": first.method,
        "checklist": first.checklist,
    }
    if not top or (len(top) == 2 and top[0][1] == top[1][1]):
        reason = "the samples abstained" if not top else f"the samples tied between {len(top)} answers"
        return undecided(first, reason, [*flags, "samples-tied" if top else "samples-abstained"], base)
    choice, votes = top[0]
    agreeing = next(r for r in usable if r.choice == choice)
    chances = [chance(r, choice, n_answers) for r in usable if r.choice is not None]
    probability = fmean(chances) if chances and all(c is not None for c in chances) else None  # type: ignore[arg-type]
    return agreeing.model_copy(
        update={
            **base,
            "choice": choice,
            "abstained": False,
            "confidence": 100 * votes / len(readings),
            "probability": probability,
            "flags": flags,
        }
    )
