"""A cascade: juries in stages, each item escalated to the next stage only while the decision is unsure.

Cascaded selective evaluation: a cheap first stage decides the items it is sure of, and only the rest reach the
costlier stages. Stage k's jury rules (its jurors, its decision, its live checks); when that decision is conclusive
with confidence at least the stage's ``accept_confidence``, the item stops there; otherwise it goes to stage k+1.
The last stage always decides. A cascade takes the judge's seat in any protocol, as a ``Jury`` does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from langgraph.constants import END, START

from agora.errors import ConfigError
from agora.protocols.jury import Jury
from agora.protocols.nodes import Node
from agora.state import DebateState, Decider, View, seat_builder
from agora.types import Decision

if TYPE_CHECKING:
    from langgraph.graph.state import CompiledStateGraph
    from langgraph.types import Checkpointer


@dataclass(frozen=True)
class Stage:
    """One stage of a cascade: its jury, and the decision confidence (0-100) at which an item stops there.

    The last stage's ``accept_confidence`` is never read: it always decides.
    """

    jury: Jury
    accept_confidence: float

    def __post_init__(self) -> None:
        if not 0 <= self.accept_confidence <= 100:
            raise ConfigError(f"cascade: accept_confidence must be between 0 and 100, got {self.accept_confidence!r}")

    def accepts(self, decision: Decision) -> bool:
        """Whether ``decision`` stops the item here: conclusive, and sure enough (its stated confidence, else its
        probability as a percentage, as the metrics read it)."""
        confidence = decision.confidence
        if confidence is None and decision.probability is not None:
            confidence = 100 * decision.probability
        return decision.outcome != "inconclusive" and confidence is not None and confidence >= self.accept_confidence


class Cascade:
    """Juries in stages; the decision carries the 1-based ``stage`` that made it.

    Raises:
        ConfigError: no stage, or a juror's name in two stages (a verdict names its juror, and so its stage).
    """

    def __init__(self, stages: Sequence[Stage]) -> None:
        if not stages:
            raise ConfigError("cascade: needs at least one stage")
        names = [j.name for stage in stages for j in [*stage.jury.jurors, *stage.jury.spares]]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ConfigError(f"cascade: juror {twice[0]!r} sits in two stages; names must be unique across stages")
        self.stages = list(stages)

    @property
    def jurors(self) -> list[Decider]:
        """Every stage's jurors, stage by stage (probes measure each of them)."""
        return [juror for stage in self.stages for juror in stage.jury.jurors]

    def graph(self, checkpointer: Checkpointer = None, *, sees_evidence: bool | None = None) -> CompiledStateGraph:
        """START → stage_1 → accept_1 → (END, or stage_2 → accept_2 → …) → END: a ``Case`` in, a ``Ruling`` out.

        Node ``stage_k`` is stage k's jury subgraph; ``accept_k`` marks its decision with the stage and routes.
        ``sees_evidence`` overrides every jury's own setting: a protocol decides what its judging seat reads.
        """
        builder = seat_builder()
        last = len(self.stages)
        builder.add_edge(START, "stage_1")
        for k, stage in enumerate(self.stages, 1):
            builder.add_node(f"stage_{k}", stage.jury.graph(sees_evidence=sees_evidence))
            builder.add_node(f"accept_{k}", _marked(k))
            builder.add_edge(f"stage_{k}", f"accept_{k}")
            if k == last:
                builder.add_edge(f"accept_{k}", END)
            else:
                builder.add_conditional_edges(f"accept_{k}", _route(stage, f"stage_{k + 1}"), [f"stage_{k + 1}", END])
        return builder.compile(checkpointer=checkpointer, name="cascade")

    @property
    def foreperson(self) -> Decider:
        """Who speaks for the cascade: the first stage's foreperson."""
        return self.stages[0].jury.foreperson

    @property
    def name(self) -> str:
        """The foreperson's name."""
        return self.foreperson.name

    async def ask(self, seen: View) -> str:
        """A question for a consultant (consultancy protocols), asked by the first stage's foreperson."""
        return await self.stages[0].jury.ask(seen)

    async def rule_on(self, seen: View) -> Decision:
        """The cascade's decision on ``seen`` outside a graph: each stage's jury in turn (no checks, as
        ``Jury.rule_on``) until one accepts, or the last decides."""
        for k, stage in enumerate(self.stages[:-1], 1):
            decision = (await stage.jury.rule_on(seen)).model_copy(update={"stage": k})
            if stage.accepts(decision):
                return decision
        return (await self.stages[-1].jury.rule_on(seen)).model_copy(update={"stage": len(self.stages)})


def _marked(k: int) -> Node:
    """A node that marks the decision in the state as stage ``k``'s."""

    async def mark(state: DebateState) -> dict[str, Any]:
        return {"decision": state["decision"].model_copy(update={"stage": k})}

    return mark


def _route(stage: Stage, next_: str) -> Callable[[DebateState], str]:
    """After ``stage``: END when it accepts its decision, else ``next_``."""

    def route(state: DebateState) -> str:
        return END if stage.accepts(state["decision"]) else next_

    return route
