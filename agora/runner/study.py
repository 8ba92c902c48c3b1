"""A scenario made ready to run: one backend chain per model spec, one compiled graph per protocol and answer count.

Everything costly is built once and reused by every task: clients, compiled LangGraph graphs, the judging seat.
"""

from __future__ import annotations

import time
from contextlib import AsyncExitStack
from dataclasses import replace
from typing import Any, Literal

from langgraph.graph.state import CompiledStateGraph

from agora import meter
from agora.agents.juror import Juror, juror_seed
from agora.backends import Backend, Retrying, RetryPolicy, build_backend
from agora.errors import ExecutionError
from agora.items import Item
from agora.methods import form_of
from agora.protocols.assignment import Assignment
from agora.protocols.cascade import Cascade, Stage
from agora.protocols.jury import Jury
from agora.protocols.kinds import ArguedSpec, ProtocolSpec, Role
from agora.protocols.steps import Steps
from agora.runner.cache import Cached, ResponseCache
from agora.runner.limits import Gates, Limits
from agora.runner.record import Record, task_key
from agora.scenarios import Scenario
from agora.types import Settings

GraphKey = tuple[str, int, Assignment | None]
"""A compiled graph's key: protocol, number of answers, assignment."""


class Study:
    """Runs one task (an item under a protocol) of ``scenario`` and returns its record.

    Args:
        scenario: the validated scenario.
        model: a model spec that replaces every role's model (``agora run --model``).
        seed: replaces the scenario's seed.
        cache: the response cache every backend goes through.
    """

    def __init__(
        self, scenario: Scenario, *, model: str | None = None, seed: int | None = None, cache: ResponseCache
    ) -> None:
        self.scenario = scenario
        self.override = model
        self.seed = scenario.seed if seed is None else seed
        self.cache = cache
        self.gates = Gates(
            {kind: Limits(**spec.model_dump()) for kind, spec in scenario.limits.items()},
        )
        retry = scenario.retry
        self.retry = RetryPolicy(retry.max_retries, retry.base_delay, retry.max_delay, timeouts=retry.timeouts)
        self._backends: dict[str, Backend] = {}
        self._opened = AsyncExitStack()
        self._graphs: dict[GraphKey, CompiledStateGraph] = {}
        self._steps: dict[GraphKey, Steps | None] = {}
        self.protocols = {p.name: p for p in scenario.protocols}
        self.seat = self._seat()

    # -- building
    def backend(self, spec: str) -> Backend:
        """The backend chain for ``spec`` (built once): cache → retries and timeouts → provider limits → backend."""
        spec = self.override or spec
        if spec not in self._backends:
            raw = build_backend(spec)
            retrying = Retrying(raw, self.retry, gate=self.gates.for_backend(raw))
            self._backends[spec] = self._opened.push_async_exit(Cached(retrying, self.cache))
        return self._backends[spec]

    def settings(self, max_tokens: int | None = None) -> Settings:
        """Sampling settings of the scenario, with the run's seed."""
        s = self.scenario.settings
        return Settings(
            temperature=s.temperature,
            max_tokens=max_tokens or s.max_tokens,
            seed=self.seed,
            timeout=s.timeout,
        )

    def _seat(self) -> Jury | Cascade:
        """The judging seat: a juror per scenario judge, with its own seed (``juror_seed``), its weight and its
        judging method; all in one jury, or with a ``cascade`` one jury per stage, each under the scenario's rule,
        thresholds and live checks."""
        scenario = self.scenario
        settings = self.settings()
        book = None
        if any(j.checklist for j in scenario.judges):
            from agora.methods.checklist import Checklists

            book = Checklists()  # the checklist judges share each item's checklist
        jurors = [
            Juror(
                self.backend(j.model or scenario.models.of("judge")),
                j.persona,
                name=j.seat_name,
                settings=replace(settings, seed=juror_seed(self.seed, j.seat_name)),
                weight=j.weight,
                form=form_of(j.scale, j.rubric, j.checklist, book, j.reasoning),
                samples=j.samples,
                swap=j.swap,
                logprobs=j.logprobs,
                reference=j.reference,
            )
            for j in scenario.judges
        ]
        jury = scenario.jury

        by_name = {j.name: j for j in jurors}

        def seated(names: list[str], min_probability: float | None = None) -> Jury:
            chosen = [by_name[name] for name in names]
            policy = jury.thresholds()
            if min_probability is not None:
                policy = replace(policy, min_probability=min_probability)
            return Jury(chosen, jury.rule, params=jury.params, policy=policy, checks=jury.checks)

        if scenario.cascade is None:
            return seated(list(by_name))
        # every stage but the last has an accept_confidence or a min_probability (validated); the last one's
        # accept_confidence is never read
        return Cascade(
            [Stage(seated(s.judges, s.min_probability), s.accept_confidence or 0.0) for s in scenario.cascade]
        )

    def graph(self, protocol: str, n_answers: int, assignment: Assignment | None = None) -> CompiledStateGraph:
        """The compiled graph of ``protocol`` for items with ``n_answers`` answers, under a tournament's
        ``assignment`` (built once)."""
        key = (protocol, n_answers, assignment)
        if key not in self._graphs:
            spec = self.protocols[protocol]
            if assignment is None:
                self._graphs[key] = spec.build(self, n_answers)
            else:
                self._graphs[key] = _sided(spec).build(self, n_answers, assignment)
        return self._graphs[key]

    async def invoke(self, protocol: str, item: Item, assignment: Assignment | None = None) -> dict[str, Any]:
        """The final state of ``protocol``'s graph on ``item`` (under ``assignment``): run in plain supersteps
        (``Steps``, the same nodes and the same end state at a fraction of the CPU), or by LangGraph when the graph
        needs more than that."""
        key = (protocol, len(item.answers), assignment)
        graph = self.graph(*key)
        if key not in self._steps:
            self._steps[key] = Steps.of(graph)
        steps = self._steps[key]
        return await (steps.run(item.state()) if steps else graph.ainvoke(item.state()))

    def model(self, role: Role) -> str:
        """The model spec of ``role`` in the scenario."""
        return self.scenario.models.of(role)

    def players(self, role: Literal["debater", "consultant"]) -> list[str]:
        """The models that argue as ``role`` (a tournament's debater models; ``--model`` replaces each)."""
        return [self.override or spec for spec in self.scenario.models.players(role)]

    # -- running
    async def run(self, item: Item, protocol: str, assignment: Assignment | None = None) -> Record:
        """Run ``protocol`` on ``item`` (under a tournament's ``assignment``); a failure becomes an error record,
        never a lost task."""
        label = assignment.label if assignment else None
        key = task_key(protocol, item.id, label)
        usage = meter.Meter()
        start = time.perf_counter()
        fields: dict[str, Any]
        spec = self.protocols[protocol]
        with meter.metering(usage):
            try:
                if assignment is None:
                    fields = await spec.run(self, item)
                else:
                    fields = await _sided(spec).run(self, item, assignment)
                status, error = "ok", None
            except ExecutionError as exc:
                fields, status, error = {"assignment": label}, "error", f"{type(exc).__name__}: {exc}"
        return Record(
            key=key,
            item=item.id,
            protocol=protocol,
            status=status,  # type: ignore[arg-type]
            error=error,
            gold=item.gold,
            usage=usage.as_dict(),
            seconds=round(time.perf_counter() - start, 4),
            **fields,
        )

    async def aclose(self) -> None:
        """Close every backend built, last built first."""
        await self._opened.aclose()


def _sided(spec: ProtocolSpec) -> ArguedSpec:
    """``spec``, a kind with sides: only those give a task an assignment."""
    assert isinstance(spec, ArguedSpec), spec.kind
    return spec
