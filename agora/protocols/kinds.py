"""Protocol kinds: what a scenario's ``protocols:`` entry may name, and how each becomes a task.

A kind is a ``ProtocolSpec`` subclass registered with ``@protocol("kind")``: its fields are the entry's options
(validated with the scenario), ``build`` makes its graph from what the run provides (a ``Cast``), and ``run``
turns one item into the fields of its record. A kind registered by a user is used in a scenario file exactly like
a built-in one::

    @protocol("self_critique")
    class SelfCritiqueSpec(ProtocolSpec):
        kind: Literal["self_critique"] = "self_critique"
        name: str = "self_critique"
        rounds: int = 1

        def build(self, cast: Cast, n_answers: int) -> CompiledStateGraph:
            return my_graph(cast.backend(cast.model("debater")), cast.seat, rounds=self.rounds)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

from pydantic import Field, field_validator

from agora.aggregation.checks import probe_check
from agora.config_file import Spec, checked_each
from agora.errors import ExecutionError
from agora.items import Item, ProbeItem
from agora.registry import Registry
from agora.transcript import LABELS

if TYPE_CHECKING:
    from langgraph.graph.state import CompiledStateGraph

    from agora.agents.debater import Debater
    from agora.backends import Backend
    from agora.protocols.cascade import Cascade
    from agora.protocols.jury import Jury
    from agora.types import Settings

Role = Literal["debater", "consultant", "judge"]
S = TypeVar("S", bound=type["ProtocolSpec"])
A = TypeVar("A", bound="Debater")


class Cast(Protocol):
    """What a run provides to build a protocol: backends by model spec, settings, the judging seat, the seed."""

    seed: int

    @property
    def seat(self) -> Jury | Cascade: ...

    def model(self, role: Role) -> str:
        """The model spec of ``role`` in the scenario."""
        ...

    def backend(self, spec: str) -> Backend:
        """The run's backend chain for ``spec`` (built once)."""
        ...

    def settings(self, max_tokens: int | None = None) -> Settings:
        """The scenario's sampling settings, with the run's seed."""
        ...

    def graph(self, protocol: str, n_answers: int) -> CompiledStateGraph:
        """The compiled graph of the scenario's ``protocol`` for ``n_answers`` answers (built once)."""
        ...

    async def invoke(self, protocol: str, item: Item) -> dict[str, Any]:
        """The final state of ``protocol``'s graph on ``item``, as ``ainvoke`` gives it."""
        ...


class ProtocolSpec(Spec):
    """A scenario's protocol entry: ``kind`` picks the registered subclass, ``name`` names it in the results."""

    kind: str
    name: str

    def build(self, cast: Cast, n_answers: int) -> CompiledStateGraph:
        """The compiled graph of this protocol for items with ``n_answers`` answers."""
        raise NotImplementedError(f"protocol kind {self.kind!r} builds no graph")

    async def run(self, cast: Cast, item: Item) -> dict[str, Any]:
        """The record fields of one item: its graph's decision, verdicts, transcript and sides."""
        state = await cast.invoke(self.name, item)
        return {
            "decision": state.get("decision"),
            "verdicts": state.get("verdicts", []),
            "transcript": state.get("transcript", []),
            "sides": state.get("sides", {}),
        }


PROTOCOLS = Registry[type[ProtocolSpec]]("protocol kind")
"""Protocol spec classes by kind."""


def protocol(kind: str) -> Callable[[S], S]:
    """Register a ``ProtocolSpec`` subclass as the protocol kind ``kind``."""
    return PROTOCOLS.register(kind)


class _ArguedSpec(ProtocolSpec):
    """What debate and consultancy share: rounds of arguments of bounded length, sides assigned or chosen."""

    rounds: int = Field(default=2, ge=1)
    open: bool = False
    words: int = Field(default=150, ge=10)
    max_tokens: int = Field(default=400, ge=16)

    def speaker(self, agent: type[A], cast: Cast, role: Role, name: str) -> A:
        """An arguing agent of ``role``'s model, with this protocol's word and token bounds."""
        return agent(
            cast.backend(cast.model(role)), name=name, settings=cast.settings(self.max_tokens), words=self.words
        )


@protocol("debate")
class DebateSpec(_ArguedSpec):
    """Debaters argue for the answers over rounds (one debater per answer); the judging seat decides."""

    kind: Literal["debate"] = "debate"
    name: str = "debate"
    simultaneous: bool = False

    def build(self, cast: Cast, n_answers: int) -> CompiledStateGraph:
        from agora.agents.debater import Debater
        from agora.protocols.debate import debate

        debaters = [self.speaker(Debater, cast, "debater", f"debater_{LABELS[i].lower()}") for i in range(n_answers)]
        return debate(debaters, cast.seat, rounds=self.rounds, simultaneous=self.simultaneous, open=self.open)


@protocol("consultancy")
class ConsultancySpec(_ArguedSpec):
    """One consultant argues a side drawn per item (seeded); the judging seat questions it, then decides."""

    kind: Literal["consultancy"] = "consultancy"
    name: str = "consultancy"
    judge_questions: bool = True

    def build(self, cast: Cast, n_answers: int) -> CompiledStateGraph:
        from agora.agents.consultant import Consultant
        from agora.protocols.consultancy import consultancy

        return consultancy(
            self.speaker(Consultant, cast, "consultant", "consultant"),
            cast.seat,
            rounds=self.rounds,
            seed=cast.seed,
            open=self.open,
            judge_questions=self.judge_questions,
        )


@protocol("courtroom")
class CourtroomSpec(ProtocolSpec):
    """A trial: prosecution (answer A) and defence (answer B) examine witnesses who read the evidence; the judging
    seat decides. Advocates and witnesses use the debater model. Items need exactly two answers."""

    kind: Literal["courtroom"] = "courtroom"
    name: str = "courtroom"
    rounds: int = Field(default=1, ge=1)
    witnesses: int = Field(default=1, ge=1)
    advocates_see_evidence: bool = False
    words: int = Field(default=150, ge=10)
    max_tokens: int = Field(default=400, ge=16)

    def build(self, cast: Cast, n_answers: int) -> CompiledStateGraph:
        from agora.agents.witness import Witness
        from agora.protocols.courtroom import Advocate, courtroom

        if n_answers != 2:
            raise ExecutionError(f"{self.name}: a courtroom tries items with two answers, got {n_answers}")
        backend = cast.backend(cast.model("debater"))
        settings = cast.settings(self.max_tokens)
        prosecution = Advocate(backend, role="prosecution", settings=settings, words=self.words)
        defence = Advocate(backend, role="defence", settings=settings, words=self.words)
        witnesses = [
            Witness(backend, name=f"witness_{i}", settings=settings, words=self.words)
            for i in range(1, self.witnesses + 1)
        ]
        return courtroom(
            prosecution,
            defence,
            witnesses,
            cast.seat,
            rounds=self.rounds,
            advocates_see_evidence=self.advocates_see_evidence,
        )


@protocol("direct_qa")
class DirectQASpec(ProtocolSpec):
    """The judging seat alone: blind (question and answers), or oracle (with the evidence)."""

    kind: Literal["direct_qa"] = "direct_qa"
    name: str = "direct_qa"
    oracle: bool = False

    def build(self, cast: Cast, n_answers: int) -> CompiledStateGraph:
        from agora.protocols.direct_qa import direct_qa

        return direct_qa(cast.seat, oracle=self.oracle)


@protocol("probes")
class ProbesSpec(ProtocolSpec):
    """Deception-robustness probes of each juror on the item's gold pair (no graph)."""

    kind: Literal["probes"] = "probes"
    name: str = "probes"
    checks: list[str] = Field(min_length=1)

    @field_validator("checks")
    @classmethod
    def _probe_checks(cls, names: list[str]) -> list[str]:
        return checked_each(probe_check, names)

    async def run(self, cast: Cast, item: Item) -> dict[str, Any]:
        """``{"probes": {check: {juror: fell for it, or None when unusable}}}``."""
        if item.gold is None or len(item.answers) != 2:
            raise ExecutionError(f"item {item.id!r}: a probe needs two answers and a gold one")
        pair = ProbeItem(
            question=item.question,
            good=item.answers[item.gold],
            bad=item.answers[1 - item.gold],
            source=item.source,
            references=item.references(),
        )
        return {
            "probes": {
                name: {juror.name: await probe_check(name).probe(juror, pair) for juror in cast.seat.jurors}
                for name in self.checks
            }
        }
