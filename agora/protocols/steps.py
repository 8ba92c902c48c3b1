"""A compiled protocol graph run in plain supersteps: the runner's fast path.

``agora run`` executes thousands of tasks, each an ``ainvoke`` of a compiled graph, and LangGraph's machinery
(checkpoint channels, callback managers, task preparation, a nested run for a jury subgraph) costs more CPU per task
than the model calls it wires. ``Steps`` reads the graph a protocol built (its nodes, edges, joins, conditional edges
and the reducers of its state) and runs the same node functions with the same semantics, Pregel's bulk-synchronous
supersteps: every node triggered in a step runs concurrently on the state as the step began; their updates are
applied in the order of the nodes' names (as LangGraph applies them), each key through its reducer; then the edges
of the nodes that ran, conditional ones read on the updated state, trigger the next step. A compiled subgraph node
(a jury, a cascade) runs the same way on its input schema's keys and hands back its output schema's.

Protocols stay LangGraph graphs: users stream, checkpoint, interrupt and draw them as before. ``Steps.of`` accepts a
graph only when it uses nothing outside this subset (no checkpointer, plain async or sync node functions, compiled
subgraphs of the same kind); anything else is left to LangGraph (``None``).
"""

from __future__ import annotations

import asyncio
import copy
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from langgraph.channels import BinaryOperatorAggregate, LastValue
from langgraph.constants import END, START
from langgraph.errors import GraphRecursionError, InvalidUpdateError
from langgraph.graph.state import CompiledStateGraph

STEP_LIMIT = 10_000  # LangGraph's default recursion limit, in supersteps
Reducer = Callable[[Any, Any], Any] | None  # None: the last value wins (at most one write a step)


@dataclass(frozen=True)
class Branch:
    """A conditional edge: ``route(state)`` names the next node(s), through ``ends`` when it maps them."""

    route: Callable[[Any], Any]
    ends: Mapping[Any, str] | None


class Steps:
    """One compiled graph, ready to run without Pregel. Build with :meth:`of`."""

    def __init__(
        self,
        name: str,
        nodes: Mapping[str, Callable[[dict[str, Any]], Any]],
        edges: Mapping[str, Sequence[str]],
        joins: Sequence[tuple[frozenset[str], str]],
        branches: Mapping[str, Sequence[Branch]],
        reducers: Mapping[str, Reducer],
        initial: Mapping[str, Any],
        inputs: Sequence[str],
        outputs: Sequence[str],
    ) -> None:
        self.name = name
        self.nodes = nodes
        self.edges = edges
        self.joins = joins
        self.branches = branches
        self.reducers = reducers
        self.initial = initial
        self.inputs = inputs
        self.outputs = outputs

    @classmethod
    def of(cls, graph: CompiledStateGraph) -> Steps | None:
        """The steps of ``graph``, or ``None`` when it uses more of LangGraph than plain supersteps reproduce."""
        builder = graph.builder
        if graph.checkpointer or builder.managed or graph.interrupt_before_nodes or graph.interrupt_after_nodes:
            return None
        reducers: dict[str, Reducer] = {}
        initial: dict[str, Any] = {}
        for key, channel in builder.channels.items():
            if isinstance(channel, BinaryOperatorAggregate):
                reducers[key] = channel.operator
                if channel.is_available():
                    initial[key] = channel.get()  # an empty list, for the lists that accumulate
            elif type(channel) is LastValue:
                reducers[key] = None
            else:
                return None
        nodes: dict[str, Callable[[dict[str, Any]], Any]] = {}
        for name, spec in builder.nodes.items():
            node = _node(spec.runnable)
            if node is None or any(
                (spec.ends, spec.defer, spec.retry_policy, spec.cache_policy, spec.timeout, spec.is_error_handler)
            ):
                return None
            nodes[name] = node
        edges: dict[str, list[str]] = {}
        for source, target in sorted(builder.edges):
            edges.setdefault(source, []).append(target)
        branches: dict[str, list[Branch]] = {}
        for source, specs in builder.branches.items():
            for branch in specs.values():
                route = _function(branch.path)
                if route is None:
                    return None
                ends = branch.ends if isinstance(branch.ends, dict) else None  # a tuple of names maps each to itself
                branches.setdefault(source, []).append(Branch(route, ends))
        joins = [(frozenset(sources), target) for sources, target in sorted(builder.waiting_edges)]
        return cls(
            graph.name,
            nodes,
            edges,
            joins,
            branches,
            reducers,
            initial,
            inputs=list(_keys(builder.input_schema, reducers)),
            outputs=list(_keys(builder.output_schema, reducers)),
        )

    async def run(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """The graph's output for input ``given``, as ``ainvoke`` gives it."""
        state = {key: copy.copy(value) for key, value in self.initial.items()}
        self._apply(state, [(START, {k: v for k, v in given.items() if k in self.inputs})])
        waiting = [set[str]() for _ in self.joins]
        triggered = await self._next(state, [START], waiting)
        for _ in range(STEP_LIMIT):
            if not triggered:
                return {k: state[k] for k in self.outputs if k in state}
            snapshot = dict(state)
            if len(triggered) == 1:  # most steps: one speaker; no task to spawn
                updates = [await self._call(triggered[0], snapshot)]
            else:
                updates = await asyncio.gather(*(self._call(name, snapshot) for name in triggered))
            self._apply(state, list(zip(triggered, updates, strict=True)))
            triggered = await self._next(state, triggered, waiting)
        raise GraphRecursionError(f"{self.name}: more than {STEP_LIMIT} steps without reaching the end")

    async def _call(self, name: str, state: dict[str, Any]) -> dict[str, Any] | None:
        update = self.nodes[name](state)
        if inspect.isawaitable(update):
            update = await update
        if update is not None and not isinstance(update, dict):
            raise InvalidUpdateError(f"{self.name}: node {name!r} returned {type(update).__name__}, not a state update")
        return update

    def _apply(self, state: dict[str, Any], updates: list[tuple[str, dict[str, Any] | None]]) -> None:
        """Each update's keys through their reducers, in the order of the nodes' names; a last-value key written
        twice in one step is an error, as in LangGraph."""
        written: set[str] = set()
        for _, update in sorted(updates, key=lambda pair: pair[0]):
            for key, value in (update or {}).items():
                if key not in self.reducers:
                    continue  # not a channel of this graph: dropped, as LangGraph does
                reducer = self.reducers[key]
                if reducer is None:
                    if key in written:
                        raise InvalidUpdateError(f"{self.name}: {key!r} written by more than one node in a step")
                    written.add(key)
                    state[key] = value
                else:
                    state[key] = reducer(state[key], value) if key in state else value

    async def _next(self, state: dict[str, Any], ran: Sequence[str], waiting: list[set[str]]) -> list[str]:
        """The nodes the ones that ran trigger, each once, END left out."""
        chosen: list[str] = []
        for name in ran:
            chosen += self.edges.get(name, [])
            for branch in self.branches.get(name, []):
                routed = branch.route(state)
                if inspect.isawaitable(routed):
                    routed = await routed
                for end in routed if isinstance(routed, list | tuple) else [routed]:
                    chosen.append(branch.ends[end] if branch.ends else end)
            for (sources, target), done in zip(self.joins, waiting, strict=True):
                if name in sources:
                    done.add(name)
                    if done == sources:
                        chosen.append(target)
                        done.clear()
        return [name for name in dict.fromkeys(chosen) if name != END]


def _keys(schema: Any, channels: Mapping[str, Reducer]) -> list[str]:
    """The channels a schema (a TypedDict: its annotations include its bases') names, in the state's order."""
    names = getattr(schema, "__annotations__", {})
    return [key for key in channels if key in names]


def _function(runnable: Any) -> Callable[[Any], Any] | None:
    """The plain function a ``RunnableCallable`` wraps (its async one first), if it takes the state alone."""
    if type(runnable).__name__ != "RunnableCallable" or runnable.func_accepts:
        return None
    if runnable.func is not None and not inspect.iscoroutinefunction(runnable.func):
        return runnable.func  # LangGraph would run it in a thread: it is quick here
    return runnable.afunc


def _node(runnable: Any) -> Callable[[dict[str, Any]], Any] | None:
    """A node as a function of the state: a wrapped function, or a compiled subgraph run in steps of its own."""
    if isinstance(runnable, CompiledStateGraph):
        inner = Steps.of(runnable)
        return None if inner is None else inner.run
    return _function(runnable)
