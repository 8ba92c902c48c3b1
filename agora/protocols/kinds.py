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

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, TypeVar

from pydantic import Field, field_validator, model_validator

from agora.aggregation.checks import probe_check
from agora.config_file import Spec, checked_each
from agora.errors import ExecutionError
from agora.items import Item, ProbeItem
from agora.redaction import redact
from agora.registry import Registry
from agora.transcript import LABELS

if TYPE_CHECKING:
    from langgraph.graph.state import CompiledStateGraph

    from agora.agents.debater import Debater
    from agora.backends import Backend
    from agora.protocols.assignment import Assignment
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

    def players(self, role: Literal["debater", "consultant"]) -> list[str]:
        """The models that argue as ``role``: a tournament's debater models, else the role's one model."""
        ...

    def backend(self, spec: str) -> Backend:
        """The run's backend chain for ``spec`` (built once)."""
        ...

    def settings(self, max_tokens: int | None = None) -> Settings:
        """The scenario's sampling settings, with the run's seed."""
        ...

    def graph(self, protocol: str, n_answers: int, assignment: Assignment | None = None) -> CompiledStateGraph:
        """The compiled graph of the scenario's ``protocol`` for ``n_answers`` answers (under ``assignment``), built
        once."""
        ...

    async def invoke(self, protocol: str, item: Item, assignment: Assignment | None = None) -> dict[str, Any]:
        """The final state of ``protocol``'s graph on ``item`` (under ``assignment``), as ``ainvoke`` gives it."""
        ...


class ProtocolSpec(Spec):
    """A scenario's protocol entry: ``kind`` picks the registered subclass, ``name`` names it in the results.

    A kind with sides (debate, consultancy) may run each item under several assignments of models and sides
    (``assignments``); ``build`` and ``run`` are then given the task's assignment.
    """

    kind: str
    name: str

    @model_validator(mode="before")
    @classmethod
    def _sides_to_swap(cls, data: Any) -> Any:
        if isinstance(data, dict) and "swap_sides" in data and "swap_sides" not in cls.model_fields:
            raise ValueError(
                f"swap_sides: protocol kind {data.get('kind')!r} cannot swap sides "
                "(swap_sides is for debate and consultancy)"
            )
        return data

    def assignments(self, players: int, n_answers: int) -> list[Assignment | None]:
        """The assignments an item with ``n_answers`` answers is run under, with ``players`` debater models: one
        task, ``None``, unless the kind swaps sides."""
        return [None]

    def build(self, cast: Cast, n_answers: int) -> CompiledStateGraph:
        """The compiled graph of this protocol for items with ``n_answers`` answers."""
        raise NotImplementedError(f"protocol kind {self.kind!r} builds no graph")

    async def run(self, cast: Cast, item: Item) -> dict[str, Any]:
        """The record fields of one item: its graph's decision, verdicts, transcript and sides."""
        return outcome(await cast.invoke(self.name, item))


def outcome(state: Mapping[str, Any]) -> dict[str, Any]:
    """The record fields of a graph's final state: decision, verdicts, transcript and sides."""
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


class ArguedSpec(ProtocolSpec):
    """What debate and consultancy share: rounds of arguments of bounded length, sides assigned or chosen, and with
    ``swap_sides`` every item argued under each assignment of the models to the sides (see
    ``agora.protocols.assignment``)."""

    rounds: int = Field(default=2, ge=1)
    open: bool = False
    swap_sides: bool = False
    words: int = Field(default=150, ge=10)
    max_tokens: int = Field(default=400, ge=16)
    role: ClassVar[Literal["debater", "consultant"]]

    @model_validator(mode="after")
    def _assigned_or_open(self) -> ArguedSpec:
        if self.open and self.swap_sides:
            raise ValueError("swap_sides: an open protocol lets its speaker choose a side; swap_sides assigns them")
        return self

    def seats(self, n_answers: int) -> list[str]:
        """The speakers' names, in speaking order."""
        raise NotImplementedError

    def build(self, cast: Cast, n_answers: int, assignment: Assignment | None = None) -> CompiledStateGraph:
        """The compiled graph for items with ``n_answers`` answers, its speakers' models and sides as ``assignment``
        gives them (``None``: the role's model, the sides as the kind assigns them)."""
        raise NotImplementedError(f"protocol kind {self.kind!r} builds no graph")

    def players_of(self, cast: Cast, n_answers: int, assignment: Assignment | None) -> list[str | None]:
        """Each seat's model under ``assignment`` (``None``: the role's model).

        Raises:
            ExecutionError: with ``swap_sides``, a task without an assignment: the item's sides cannot be assigned
                (the reason is the first line).
        """
        players = cast.players(self.role)
        if assignment is None:
            if self.swap_sides:
                self.assignments(len(players), n_answers)  # raises why there is none
                raise ExecutionError(f"{self.name}: swap_sides, and the task has no assignment")
            return [None] * len(self.seats(n_answers))
        return [players[m] for m in assignment.models]

    def speaker(self, agent: type[A], cast: Cast, name: str, model: str | None = None) -> A:
        """An arguing agent of ``model`` (else the role's model), with this protocol's word and token bounds."""
        return agent(
            cast.backend(model or cast.model(self.role)),
            name=name,
            settings=cast.settings(self.max_tokens),
            words=self.words,
        )

    async def run(self, cast: Cast, item: Item, assignment: Assignment | None = None) -> dict[str, Any]:
        """The record fields of one task; under an assignment, with it and the model each speaker played."""
        if assignment is None:
            return await super().run(cast, item)
        state = await cast.invoke(self.name, item, assignment)
        players = cast.players(self.role)
        seats = self.seats(len(item.answers))
        return {
            **outcome(state),
            "assignment": assignment.label,
            "models": {seat: redact(players[m]) for seat, m in zip(seats, assignment.models, strict=True)},
        }


@protocol("debate")
class DebateSpec(ArguedSpec):
    """Debaters argue for the answers over rounds (one debater per answer); the judging seat decides."""

    kind: Literal["debate"] = "debate"
    name: str = "debate"
    simultaneous: bool = False
    role: ClassVar[Literal["debater", "consultant"]] = "debater"

    def seats(self, n_answers: int) -> list[str]:
        return [f"debater_{LABELS[i].lower()}" for i in range(n_answers)]

    def assignments(self, players: int, n_answers: int) -> list[Assignment | None]:
        from agora.protocols.assignment import debate_assignments

        return [*debate_assignments(players, n_answers)] if self.swap_sides else [None]

    def build(self, cast: Cast, n_answers: int, assignment: Assignment | None = None) -> CompiledStateGraph:
        from agora.agents.debater import Debater
        from agora.protocols.debate import debate

        models = self.players_of(cast, n_answers, assignment)
        debaters = [
            self.speaker(Debater, cast, seat, model) for seat, model in zip(self.seats(n_answers), models, strict=True)
        ]
        return debate(
            debaters,
            cast.seat,
            rounds=self.rounds,
            simultaneous=self.simultaneous,
            open=self.open,
            sides=assignment.sides if assignment else None,
        )


@protocol("consultancy")
class ConsultancySpec(ArguedSpec):
    """One consultant argues a side drawn per item (seeded); the judging seat questions it, then decides."""

    kind: Literal["consultancy"] = "consultancy"
    name: str = "consultancy"
    judge_questions: bool = True
    role: ClassVar[Literal["debater", "consultant"]] = "consultant"

    def seats(self, n_answers: int) -> list[str]:
        return ["consultant"]

    def assignments(self, players: int, n_answers: int) -> list[Assignment | None]:
        from agora.protocols.assignment import consultancy_assignments

        return [*consultancy_assignments(players, n_answers)] if self.swap_sides else [None]

    def build(self, cast: Cast, n_answers: int, assignment: Assignment | None = None) -> CompiledStateGraph:
        from agora.agents.consultant import Consultant
        from agora.protocols.consultancy import consultancy

        return consultancy(
            self.speaker(Consultant, cast, "consultant", self.players_of(cast, n_answers, assignment)[0]),
            cast.seat,
            rounds=self.rounds,
            seed=cast.seed,
            open=self.open,
            judge_questions=self.judge_questions,
            side=assignment.sides[0] if assignment else None,
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
