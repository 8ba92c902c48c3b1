"""Swap: a judge reads the answers in both orders. Where the backend gives probabilities they are averaged;
otherwise a pair of readings that disagree (the position decided, not the content) is undecided."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from statistics import fmean

from agora.methods.sampling import chance, total_usage, undecided
from agora.state import View
from agora.transcript import LABELS
from agora.types import Verdict

# "Answer A", and each letter of a list after "Answers": "Answers A and B", "Answers A, B or C".
_LETTERS = re.compile(r"\bAnswers?\s+[A-Z](?:(?:\s*,\s*(?:(?:and|or)\s+)?|\s+(?:and|or)\s+)[A-Z])*\b")
_LETTER = re.compile(r"\b[A-Z]\b")


def reordered(seen: View, order: Sequence[int]) -> View:
    """``seen`` with its answers in ``order`` (``order[k]`` is the answer shown k-th); transcript turns keep arguing
    the same answers: their sides and the ``Answer X`` letters in their text are relabelled."""
    place = {old: new for new, old in enumerate(order)}

    def letter(match: re.Match[str]) -> str:
        index = LABELS.find(match.group(0))
        return match.group(0) if index not in place else LABELS[place[index]]

    def relabel(match: re.Match[str]) -> str:
        return _LETTER.sub(letter, match.group(0))

    turns = tuple(
        t.model_copy(update={"side": None if t.side is None else place[t.side], "text": _LETTERS.sub(relabel, t.text)})
        for t in seen.transcript
    )
    return replace(seen, answers=tuple(seen.answers[i] for i in order), transcript=turns)


def reversed_view(seen: View) -> View:
    """``seen`` with its answers in reverse order (see ``reordered``)."""
    return reordered(seen, range(len(seen.answers) - 1, -1, -1))


def restored(verdict: Verdict, n_answers: int) -> Verdict:
    """A verdict on the reversed view, in the original answer order."""

    def back(i: int) -> int:
        return n_answers - 1 - i

    def flip(values: list[float] | None) -> list[float] | None:
        return None if values is None else list(reversed(values))

    return verdict.model_copy(
        update={
            "choice": None if verdict.choice is None else back(verdict.choice),
            "ranking": None if verdict.ranking is None else [back(i) for i in verdict.ranking],
            "scores": flip(verdict.scores),
            "criteria": None if verdict.criteria is None else {k: flip(v) for k, v in verdict.criteria.items()},
            "readings": [restored(r, n_answers) for r in verdict.readings],
        }
    )


def reconcile(straight: Verdict, swapped: Verdict, n_answers: int) -> Verdict:
    """One verdict from the two orders (``swapped`` already restored to the original order)."""
    both = [straight, swapped]
    base = {
        "usage": total_usage(both),
        "attempts": straight.attempts + swapped.attempts,
        "readings": both,
        "confidence": fmean(v.confidence for v in both),
        "scores": None,
    }
    if straight.scores is not None and swapped.scores is not None:
        base["scores"] = [fmean(pair) for pair in zip(straight.scores, swapped.scores, strict=True)]
    flags = list(dict.fromkeys([*straight.flags, *swapped.flags]))  # what either order noticed
    chances = [[chance(v, a, n_answers) for a in range(n_answers)] for v in both]
    given = all(c is not None for row in chances for c in row)
    averaged = [fmean(c for c in column if c is not None) for column in zip(*chances, strict=True)] if given else []
    if averaged and averaged.count(max(averaged)) == 1:
        choice = averaged.index(max(averaged))
        chosen = straight if straight.choice == choice else swapped
        return chosen.model_copy(
            update={**base, "choice": choice, "abstained": False, "probability": max(averaged), "flags": flags}
        )
    if straight.choice is not None and straight.choice == swapped.choice:  # consistent (probabilities tied, if any)
        probability = averaged[straight.choice] if averaged else None
        return straight.model_copy(update={**base, "probability": probability, "flags": flags})
    if straight.choice is None or swapped.choice is None:
        reason, flag = "undecided in one answer order at least", "undecided-in-an-order"
    else:
        reason, flag = "position-inconsistent: the two answer orders gave different choices", "position-inconsistent"
    return undecided(straight, reason, [*flags, flag], base)
