"""What each stage of a cascade did: the items it decided (share and accuracy) and what it cost.

A decision made in a cascade carries its 1-based ``stage``; a verdict belongs to the stage its juror sits in (the
scenario's ``cascade:`` lists them). An item decided at stage k reached stages 1..k and paid for each of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from agora.metrics.accuracy import Outcome, accuracy
from agora.metrics.types import CascadeStage
from agora.runner.record import Record


@dataclass
class _Tally:
    """One stage of one protocol, as the records are read."""

    judges: tuple[str, ...]
    reached: int = 0
    decided: int = 0
    calls: int = 0
    tokens: int = 0
    spent_calls: int = 0  # by the items decided here, in every stage they reached
    spent_tokens: int = 0
    outcomes: list[Outcome] = field(default_factory=list)


def cascade_stages(
    records: Iterable[Record], stages: Sequence[Sequence[str]], *, seed: int = 0
) -> tuple[CascadeStage, ...]:
    """Per protocol and stage (``stages``: each stage's judges, in order), over the records whose decision a
    cascade made: the items that reached the stage and those it decided, their share of the protocol's items, the
    accuracy of its decisions on the items with gold (an inconclusive one is not right), and the model calls and
    tokens of its jurors' verdicts."""
    stage_of = {judge: k for k, judges in enumerate(stages, 1) for judge in judges}
    tallies: dict[str, list[_Tally]] = {}
    for record in records:
        decision = record.decision
        if record.status != "ok" or decision is None or decision.stage is None:
            continue
        tally = tallies.setdefault(record.protocol, [_Tally(tuple(judges)) for judges in stages])
        calls, tokens = [0] * len(stages), [0] * len(stages)
        for verdict in record.verdicts:
            if verdict.judge in stage_of:
                calls[stage_of[verdict.judge] - 1] += verdict.attempts
                tokens[stage_of[verdict.judge] - 1] += verdict.usage.total_tokens
        for k in range(decision.stage):
            tally[k].reached += 1
            tally[k].calls += calls[k]
            tally[k].tokens += tokens[k]
        here = tally[decision.stage - 1]
        here.decided += 1
        here.spent_calls += sum(calls)
        here.spent_tokens += sum(tokens)
        if record.gold is not None:
            chosen = decision.outcome if isinstance(decision.outcome, int) else None
            here.outcomes.append(None if chosen is None else (decision.confidence or 0.0, chosen == record.gold))
    return tuple(
        CascadeStage(
            protocol=protocol,
            stage=k,
            judges=t.judges,
            reached=t.reached,
            decided=t.decided,
            share=t.decided / tally[0].reached,
            accuracy=accuracy(t.outcomes, seed=seed),
            calls=t.calls,
            tokens=t.tokens,
            spent_calls=t.spent_calls,
            spent_tokens=t.spent_tokens,
        )
        for protocol, tally in tallies.items()
        for k, t in enumerate(tally, 1)
    )
