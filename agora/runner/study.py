"""A scenario made ready to run: one backend chain per model spec, one compiled graph per protocol and answer count.

Everything costly is built once and reused by every task: clients, compiled LangGraph graphs, the judging seat.
"""

from __future__ import annotations

import time
from typing import Any

from langgraph.graph.state import CompiledStateGraph

from agora import meter
from agora.agents.consultant import Consultant
from agora.agents.debater import Debater
from agora.agents.juror import Juror
from agora.aggregation.checks import probe_check
from agora.aggregation.voting import get_rule
from agora.backends import Backend, Retrying, RetryPolicy, build_backend
from agora.errors import ConfigError, ExecutionError
from agora.items import Item
from agora.probes import ProbeItem
from agora.protocols import Jury, consultancy, debate, direct_qa
from agora.runner.cache import Cached, ResponseCache
from agora.runner.limits import Gates, Limits
from agora.runner.record import Record, task_key
from agora.scenarios import ConsultancySpec, DebateSpec, DirectQASpec, ProbesSpec, Scenario
from agora.transcript import LABELS
from agora.types import Settings


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
        self.model = model
        self.seed = scenario.seed if seed is None else seed
        self.cache = cache
        self.gates = Gates(
            {kind: Limits(**spec.model_dump()) for kind, spec in scenario.limits.items()},
        )
        retry = scenario.retry
        self.retry = RetryPolicy(retry.max_retries, retry.base_delay, retry.max_delay)
        self._backends: dict[str, Backend] = {}
        self._graphs: dict[tuple[str, int], CompiledStateGraph] = {}
        self.protocols = {p.name: p for p in scenario.protocols}
        self.seat = self._seat()

    # -- building
    def backend(self, spec: str) -> Backend:
        """The backend chain for ``spec`` (built once): cache → retries and timeouts → provider limits → backend."""
        spec = self.model or spec
        if spec not in self._backends:
            raw = build_backend(spec)
            retrying = Retrying(raw, self.retry, gate=self.gates.for_backend(raw))
            self._backends[spec] = Cached(retrying, self.cache)
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

    def _seat(self) -> Jury:
        scenario = self.scenario
        jurors = [
            Juror(
                self.backend(j.model or scenario.models.of("judge")),
                j.persona,
                name=j.name or j.persona or "judge",
                settings=self.settings(),
                weight=j.weight,
            )
            for j in scenario.judges
        ]
        jury = scenario.jury
        rule = get_rule(jury.rule, **jury.params)
        return Jury(jurors, rule, policy=jury.thresholds(), checks=jury.checks)

    def graph(self, protocol: str, n_answers: int) -> CompiledStateGraph:
        """The compiled graph of ``protocol`` for items with ``n_answers`` answers (built once)."""
        key = (protocol, n_answers)
        if key not in self._graphs:
            self._graphs[key] = self._build(self.protocols[protocol], n_answers)
        return self._graphs[key]

    def _build(self, spec: Any, n_answers: int) -> CompiledStateGraph:
        models = self.scenario.models
        if isinstance(spec, DebateSpec):
            debaters = [
                Debater(
                    self.backend(models.of("debater")),
                    name=f"debater_{LABELS[i].lower()}",
                    settings=self.settings(spec.max_tokens),
                    words=spec.words,
                )
                for i in range(n_answers)
            ]
            return debate(debaters, self.seat, rounds=spec.rounds, simultaneous=spec.simultaneous, open=spec.open)
        if isinstance(spec, ConsultancySpec):
            consultant = Consultant(
                self.backend(models.of("consultant")),
                name="consultant",
                settings=self.settings(spec.max_tokens),
                words=spec.words,
            )
            return consultancy(
                consultant,
                self.seat,
                rounds=spec.rounds,
                seed=self.seed,
                open=spec.open,
                judge_questions=spec.judge_questions,
            )
        if isinstance(spec, DirectQASpec):
            return direct_qa(self.seat, oracle=spec.oracle)
        raise ConfigError(f"protocol {spec.name!r} of kind {spec.kind!r} has no graph")

    # -- running
    async def run(self, item: Item, protocol: str) -> Record:
        """Run ``protocol`` on ``item``; a failure becomes an error record, never a lost task."""
        key = task_key(protocol, item.id)
        usage = meter.Meter()
        start = time.perf_counter()
        fields: dict[str, Any]
        with meter.metering(usage):
            try:
                spec = self.protocols[protocol]
                if isinstance(spec, ProbesSpec):
                    fields = {"probes": await self._probe(spec, item)}
                else:
                    state = await self.graph(protocol, len(item.answers)).ainvoke(item.state())
                    fields = {
                        "decision": state.get("decision"),
                        "verdicts": state.get("verdicts", []),
                        "transcript": state.get("transcript", []),
                        "sides": state.get("sides", {}),
                    }
                status, error = "ok", None
            except ExecutionError as exc:
                fields, status, error = {}, "error", f"{type(exc).__name__}: {exc}"
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

    async def _probe(self, spec: ProbesSpec, item: Item) -> dict[str, dict[str, bool | None]]:
        if item.gold is None or len(item.answers) != 2:
            raise ExecutionError(f"item {item.id!r}: a probe needs two answers and a gold one")
        pair = ProbeItem(
            question=item.question, good=item.answers[item.gold], bad=item.answers[1 - item.gold], source=item.source
        )
        return {
            name: {juror.name: await probe_check(name).probe(juror, pair) for juror in self.seat.jurors}
            for name in spec.checks
        }

    async def aclose(self) -> None:
        """Close every backend."""
        for backend in self._backends.values():
            await backend.aclose()
