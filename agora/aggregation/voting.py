"""Voting rules in a registry: ``@aggregator("name")`` makes a user's rule as usable as a built-in one."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence

from agora.errors import ConfigError
from agora.types import Decision, Verdict

Rule = Callable[[Sequence[Verdict], int], Decision]

_rules: dict[str, Rule] = {}


def aggregator(name: str) -> Callable[[Rule], Rule]:
    """Register ``rule(verdicts, n_answers) -> Decision`` under ``name``."""

    def register(rule: Rule) -> Rule:
        _rules[name] = rule
        return rule

    return register


def get_rule(name: str) -> Rule:
    """The rule registered under ``name``."""
    if name not in _rules:
        close = difflib.get_close_matches(name, list(_rules), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(sorted(_rules))})"
        raise ConfigError(f"unknown rule {name!r}{hint}")
    return _rules[name]


def rules() -> list[str]:
    """The names of every registered rule."""
    return sorted(_rules)


def tally(
    verdicts: Sequence[Verdict],
    n_answers: int,
    rule: str,
    weights: Sequence[float] | None = None,
    quota: float = 0.0,
) -> Decision:
    """A decision from vote totals: the unique top answer wins if it holds more than ``quota`` of the votes.

    A tie, no vote at all, or a winner below the quota is inconclusive, never a silent pick.
    """
    votes = [0.0] * n_answers
    for i, v in enumerate(verdicts):
        if v.choice is not None and not v.abstained:
            votes[v.choice] += weights[i] if weights else 1.0
    top = max(votes, default=0.0)
    winners = [i for i, total in enumerate(votes) if total == top]
    decided = top > 0 and len(winners) == 1 and top > quota * sum(votes)
    outcome: int | str = winners[0] if decided else "inconclusive"
    backing = [v for v in verdicts if v.choice == outcome]
    return Decision(
        outcome=outcome,  # type: ignore[arg-type]
        rule=rule,
        votes=votes,
        confidence=sum(v.confidence for v in backing) / len(backing) if backing else None,
        abstained=[v.judge for v in verdicts if v.abstained or v.choice is None],
        dissent=[f"{v.judge}: {v.reasoning}" for v in verdicts if v.choice is not None and v.choice != outcome],
    )


@aggregator("majority")
def majority(verdicts: Sequence[Verdict], n_answers: int) -> Decision:
    """One vote per juror; an answer needs more than half of the votes cast, else inconclusive."""
    return tally(verdicts, n_answers, "majority", quota=0.5)
