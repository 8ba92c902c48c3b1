"""Declarative debate graphs: a YAML file of nodes and edges, validated with networkx, compiled to LangGraph.

``load_graph(path)`` returns a validated ``GraphSpec``; ``spec.compile(resolve)`` builds the same graph the Python
protocols build, from the same node factories (``graphs/*.yaml`` and their ``graphs/*.py`` twins show both).

A graph file::

    name: debate                  # the compiled graph's name
    rounds: 3                     # turns each speaker takes; required (>= 1) exactly when an edge loops
    nodes:                        # node id -> role and options; ids are letters, digits, '_' and '-'
      sides: {role: sides, assign: fixed}
      debater_a: {role: debater, model: local}
      debater_b: {role: debater, model: local}
      judge: {role: judge, model: local, persona: skeptical}
    edges:
      - [START, sides]                                    # [source, target]
      - [sides, debater_a]
      - [debater_a, debater_b]
      - {from: debater_b, loop: debater_a, exit: judge}   # back to debater_a until every speaker took `rounds` turns
      - [judge, END]

Roles and their options (agents are named after their node id):

- ``sides``: assigns each speaker (the debater and consultant nodes, in file order) the answer it argues.
  ``assign: fixed`` (speaker ``i`` argues answer ``i``, the default), ``seeded`` (drawn per question with
  ``seed``, default 0) or ``open`` (the first speaker chooses, the others take the remaining answers in order).
- ``debater``, ``consultant``: a speaker; ``model``. A speaker whose edge leads to a ``round_end`` node speaks
  simultaneously: it sees only the turns of earlier rounds.
- ``judge``, ``juror``: adds a verdict; ``model``, optional ``persona``, ``sees_evidence`` (oracle QA, default false);
  a juror's ``weight`` (default 1) reaches a rule that takes weights (``weighted``).
- ``judge_question``: a judge asks the speaker its edge leads to a question; ``of: <judge node>`` reuses that
  judge, or ``model`` and optional ``persona`` seat a judge of its own.
- ``aggregate``: a jury's decision over the juror nodes of its graph; ``rule`` (default ``majority``).
- ``round_end``: waits for every branch of a parallel round (a join).
- ``subgraph``: ``graph: {rounds, nodes, edges}`` compiled on its own and run as one node, as a ``Jury`` in
  the judge's seat is.
- ``prosecution``, ``defence``, ``witness``, ``clerk``: a trial (``agora.protocols.courtroom``). The advocates are
  speakers (``model``; ``sees_evidence``, default false), the witnesses read the evidence (``model``). The clerk
  keeps the docket: its loop edge ``{from: clerk, loop: [prosecution, defence, witness_1...], exit: judge}`` sends
  each turn to the next speaker (openings, ``rounds`` questions per advocate per witness, closings), and every
  speaker's edge leads back to it.

An edge is ``[source, target]``. Several edges from one node run their targets in parallel, and so does one edge
to a list, ``[sides, [debater_a, debater_b]]``; ``[[debater_a, debater_b], round_end]`` joins parallel branches
(LangGraph's ``add_edge([a, b], c)``). A loop edge's ``loop`` may list several nodes (a simultaneous round) and
its ``exit`` may be ``END``. Every loop edge uses the graph's ``rounds`` and counts the turns of all its speakers.

Validation rules, each failure one ``ConfigError`` line naming the file and the node (or edge, or field):

- known roles (with a did-you-mean hint), options that apply to the role, known personas and voting rules;
- a ``model`` for every debater, consultant, judge and juror; ``of`` or ``model`` for a ``judge_question``;
- edges between declared nodes, none into START or out of END, none both joining and fanning out;
- exactly one edge from START (it may fan out), and END reachable from START;
- no cycle except through a loop edge (the graph without its loop edges is a DAG); a loop's source has no other
  edge, and each node it loops back to leads back to it;
- no orphan: every node reachable from START and able to reach END;
- ``rounds`` >= 1 when an edge loops, and no ``rounds`` when none does;
- one ``sides`` node exactly when there are speakers, jurors for an ``aggregate``, a speaker after a
  ``judge_question``;
- a trial's nodes exactly when there is one clerk, which loops to one prosecution, one defence and at least one
  witness.

A subgraph's errors are prefixed with ``subgraph '<id>':``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import networkx as nx
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Checkpointer
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    ValidationInfo,
    model_validator,
)

from agora.agents.consultant import Consultant
from agora.agents.debater import Debater
from agora.agents.judge import Judge
from agora.agents.juror import Juror
from agora.agents.witness import Witness
from agora.aggregation.voting import seat_rule, takes_weights
from agora.backends import Backend, resolve_model
from agora.backends.scripted import ScriptedBackend
from agora.config_file import read_mapping, validate
from agora.errors import ConfigError
from agora.personas import load_persona
from agora.protocols.courtroom import Advocate, Step, add_docket, advocate_node, docket, witness_node
from agora.protocols.nodes import (
    Assign,
    add_loop,
    aggregate_node,
    fixed_sides,
    join,
    judge_node,
    open_sides,
    question_node,
    seeded_sides,
    sides_node,
    speaker_node,
)
from agora.registry import hint
from agora.state import DebateState, seat_builder

Resolve = Callable[[str], Backend]

# Each role and the options it takes besides ``role``.
ROLES: dict[str, frozenset[str]] = {
    "sides": frozenset({"assign", "seed"}),
    "debater": frozenset({"model"}),
    "consultant": frozenset({"model"}),
    "judge": frozenset({"model", "persona", "sees_evidence"}),
    "juror": frozenset({"model", "persona", "sees_evidence", "weight"}),
    "judge_question": frozenset({"model", "persona", "of"}),
    "aggregate": frozenset({"rule"}),
    "round_end": frozenset(),
    "subgraph": frozenset({"graph"}),
    "prosecution": frozenset({"model", "sees_evidence"}),
    "defence": frozenset({"model", "sees_evidence"}),
    "witness": frozenset({"model"}),
    "clerk": frozenset(),
}
SPEAKERS = frozenset({"debater", "consultant", "prosecution", "defence"})
TRIAL = ("prosecution", "defence", "witness")
NEEDS_MODEL = SPEAKERS | {"judge", "juror", "witness"}
TERMINALS = {"START": START, "END": END}
_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def _listed(value: Any) -> Any:
    """A single node id as a one-item list."""
    return [value] if isinstance(value, str) else value


NodeIds = Annotated[list[str], BeforeValidator(_listed), Field(min_length=1)]


class LoopEdge(BaseModel):
    """``{from, loop, exit}``: back to ``loop`` until every speaker took ``rounds`` turns, then to ``exit``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str = Field(alias="from")
    loop: NodeIds
    exit: str


Edge = Annotated[
    Annotated[tuple[NodeIds, NodeIds], Tag("edge")] | Annotated[LoopEdge, Tag("loop")],
    Discriminator(lambda value: "loop" if isinstance(value, dict | LoopEdge) else "edge"),
]


class NodeSpec(BaseModel):
    """One node: its role and the options of that role (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    role: str
    model: str | None = None
    persona: str | None = None
    sees_evidence: bool = False
    assign: Literal["fixed", "seeded", "open"] = "fixed"
    seed: int = 0
    of: str | None = None
    rule: str = "majority"
    weight: float = Field(default=1.0, gt=0)
    graph: GraphBody | None = None


class GraphBody(BaseModel):
    """Nodes, edges and the rounds of the loops: a whole graph, or a subgraph node's."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rounds: int | None = None
    nodes: dict[str, NodeSpec] = Field(min_length=1)
    edges: list[Edge] = Field(min_length=1)


class GraphSpec(GraphBody):
    """A validated graph file; ``compile`` turns it into a LangGraph graph."""

    name: str = Field(min_length=1)
    _source: str = PrivateAttr(default="<graph>")

    @model_validator(mode="after")
    def _validate_graph(self, info: ValidationInfo) -> GraphSpec:
        self._source = str((info.context or {}).get("source", self._source))
        _check(self, f"{self._source}: ")
        return self

    def compile(self, resolve: Resolve = resolve_model, checkpointer: Checkpointer = None) -> CompiledStateGraph:
        """The LangGraph graph, named after the spec; ``resolve`` turns each node's model spec into a backend."""
        return _builder(self, resolve, f"{self._source}: ").compile(checkpointer=checkpointer, name=self.name)


NodeSpec.model_rebuild()


def load_graph(path: str | Path) -> GraphSpec:
    """Load, validate and return the graph file at ``path``."""
    return validate(GraphSpec, read_mapping(path, "graph"), path, context={"source": str(path)}, where=_location)


def placeholder_backend(spec: str) -> Backend:
    """A backend that is never called, for compiling a graph only to draw it without building real clients."""
    return ScriptedBackend([], model=spec)


def _location(loc: Sequence[int | str]) -> str:
    """A pydantic error location in the file's terms: ``node 'judge': persona``, ``edge 3: target``."""
    parts: list[str] = []
    rest = list(loc)
    while rest:
        key = rest.pop(0)
        if key == "nodes" and rest:
            parts.append(f"node {rest.pop(0)!r}")
        elif key == "edges" and rest:
            parts.append(f"edge {int(rest.pop(0)) + 1}")
            if rest.pop(0) == "edge" and rest:  # the edge kind's tag, then a pair's position
                parts.append(("source", "target")[int(rest.pop(0))])
        else:
            parts.append(str(key))
    return ": ".join(parts)


def _arrows(edge: Any) -> list[tuple[str, str, bool]]:
    """The ``(source, target, loops)`` arrows of one edge, in file terms (``START``, ``END``)."""
    if isinstance(edge, LoopEdge):
        return [*((edge.source, back, True) for back in edge.loop), (edge.source, edge.exit, False)]
    sources, targets = edge
    return [(source, target, False) for source in sources for target in targets]


def _check(body: GraphBody, where: str) -> None:
    """Raise a one-line ``ConfigError`` prefixed by ``where`` for the first rule ``body`` breaks."""
    for node_id, node in body.nodes.items():
        _check_node(body, node_id, node, where)
    graph = _digraph(body, where)
    _check_flow(body, graph, where)
    _check_rounds(body, where)
    _check_roles(body, graph, where)
    for node_id, node in body.nodes.items():
        if node.graph is not None:
            _check(node.graph, f"{where}subgraph {node_id!r}: ")


def _check_node(body: GraphBody, node_id: str, node: NodeSpec, where: str) -> None:
    """The rules about one node on its own: id, role, options, model, persona, rule."""
    at = f"{where}node {node_id!r}"
    if node_id in TERMINALS or not _ID.match(node_id):
        raise ConfigError(f"{at}: a node id is letters, digits, '_' and '-', and not START or END")
    if node.role not in ROLES:
        raise ConfigError(f"{at}: unknown role {node.role!r}{hint(node.role, list(ROLES))}")
    foreign = sorted(node.model_fields_set - {"role"} - ROLES[node.role])
    if foreign:
        raise ConfigError(f"{at}: {foreign[0]!r} does not apply to role {node.role!r}")
    if node.role in NEEDS_MODEL and node.model is None:
        raise ConfigError(f"{at}: role {node.role!r} needs a 'model'")
    if node.role == "judge_question" and ((node.model is None) == (node.of is None) or (node.of and node.persona)):
        raise ConfigError(f"{at}: a judge_question takes either 'of' (a judge node) or its own 'model' and 'persona'")
    if node.of is not None and (node.of not in body.nodes or body.nodes[node.of].role != "judge"):
        raise ConfigError(f"{at}: 'of' must name a judge node, got {node.of!r}")
    if "seed" in node.model_fields_set and node.assign != "seeded":
        raise ConfigError(f"{at}: 'seed' applies only to assign: seeded")
    if node.role == "subgraph" and node.graph is None:
        raise ConfigError(f"{at}: role 'subgraph' needs a 'graph'")
    try:
        if node.persona is not None:
            load_persona(node.persona)
        if node.role == "aggregate":
            weights = _weights(body)
            if any(w != 1 for w in weights.values()) and not takes_weights(node.rule):
                raise ConfigError(f"rule {node.rule!r} takes no weights, and jurors carry them (use rule: weighted)")
            seat_rule(node.rule, {}, weights)
    except ConfigError as exc:
        raise ConfigError(f"{at}: {exc}") from None


def _digraph(body: GraphBody, where: str) -> nx.DiGraph:
    """The edges as a networkx graph; arrows of loop edges carry ``loop=True``."""
    graph = nx.DiGraph()
    graph.add_nodes_from(["START", *body.nodes, "END"])
    known = [*body.nodes, "START", "END"]
    for index, edge in enumerate(body.edges, 1):
        if not isinstance(edge, LoopEdge) and len(edge[0]) > 1 and len(edge[1]) > 1:
            raise ConfigError(f"{where}edge {index}: an edge joins several nodes or fans out to several, not both")
        for source, target, loops in _arrows(edge):
            for name in (source, target):
                if name not in graph:
                    raise ConfigError(f"{where}edge {index}: unknown node {name!r}{hint(name, known)}")
            if source == "END" or target == "START":
                raise ConfigError(f"{where}edge {index}: no edge leaves END or enters START")
            graph.add_edge(source, target, loop=loops)
    return graph


def _check_flow(body: GraphBody, graph: nx.DiGraph, where: str) -> None:
    """The rules about paths: one entry, END reachable, cycles only through loop edges, no orphan node."""
    entries = [edge for edge in body.edges if "START" in _sources(edge)]
    if len(entries) != 1:
        raise ConfigError(f"{where}START: exactly one edge must leave START (it may fan out), found {len(entries)}")
    if not nx.has_path(graph, "START", "END"):
        raise ConfigError(f"{where}END: not reachable from START")
    for loop in body.edges:
        if not isinstance(loop, LoopEdge):
            continue
        if any(edge is not loop and loop.source in _sources(edge) for edge in body.edges):
            raise ConfigError(f"{where}node {loop.source!r}: a loop's source can have no other edge leaving it")
        for back in loop.loop:
            if not nx.has_path(graph, back, loop.source):
                raise ConfigError(f"{where}node {loop.source!r}: its loop goes to {back!r}, which never comes back")
    plain = nx.subgraph_view(graph, filter_edge=lambda a, b: not graph.edges[a, b]["loop"])
    try:
        cycle = [a for a, _ in nx.find_cycle(plain)]
    except nx.NetworkXNoCycle:
        cycle = []
    if cycle:
        path = " -> ".join([*cycle, cycle[0]])
        raise ConfigError(f"{where}node {cycle[0]!r}: cycle {path} without a loop edge ({{from, loop, exit}})")
    reached, reaching = nx.descendants(graph, "START"), nx.ancestors(graph, "END")
    for node_id in body.nodes:
        if node_id not in reached:
            raise ConfigError(f"{where}node {node_id!r}: not reachable from START")
        if node_id not in reaching:
            raise ConfigError(f"{where}node {node_id!r}: cannot reach END")


def _check_rounds(body: GraphBody, where: str) -> None:
    """``rounds`` >= 1 exactly when an edge loops."""
    loops = [edge for edge in body.edges if isinstance(edge, LoopEdge)]
    if loops and (body.rounds is None or body.rounds < 1):
        raise ConfigError(f"{where}node {loops[0].source!r}: its loop needs rounds >= 1, got {body.rounds}")
    if body.rounds is not None and not loops:
        raise ConfigError(f"{where}rounds: set to {body.rounds} but no edge loops")


def _check_roles(body: GraphBody, graph: nx.DiGraph, where: str) -> None:
    """The rules between roles: speakers and their sides node, jurors for an aggregate, a speaker to question."""
    roles = [node.role for node in body.nodes.values()]
    for node_id, node in body.nodes.items():
        if node.role in SPEAKERS and "sides" not in roles:
            raise ConfigError(f"{where}node {node_id!r}: a {node.role} needs a sides node to assign its answer")
        if node.role == "sides" and (roles.count("sides") > 1 or not SPEAKERS & set(roles)):
            raise ConfigError(f"{where}node {node_id!r}: a graph has one sides node, and only if it has speakers")
        if node.role == "aggregate" and "juror" not in roles:
            raise ConfigError(f"{where}node {node_id!r}: no juror node to aggregate")
        if node.role == "judge_question" and len(_asked(body, graph, node_id)) != 1:
            raise ConfigError(f"{where}node {node_id!r}: a judge_question must lead to one debater or consultant")
        if node.role in TRIAL and "clerk" not in roles:
            raise ConfigError(f"{where}node {node_id!r}: a {node.role} needs a clerk node to call it")
        if node.role == "clerk":
            _check_clerk(body, graph, node_id, roles, where)


def _check_clerk(body: GraphBody, graph: nx.DiGraph, clerk: str, roles: list[str], where: str) -> None:
    """One clerk, looping to the trial's nodes (one prosecution, one defence, at least one witness) and back."""
    at = f"{where}node {clerk!r}"
    if roles.count("clerk") > 1:
        raise ConfigError(f"{at}: a graph has one clerk")
    if roles.count("prosecution") != 1 or roles.count("defence") != 1:
        raise ConfigError(f"{at}: a trial needs one prosecution and one defence")
    if "witness" not in roles:
        raise ConfigError(f"{at}: witnesses: a trial needs at least one witness")
    trial = {node_id for node_id, node in body.nodes.items() if node.role in TRIAL}
    loops = [edge.loop for edge in body.edges if isinstance(edge, LoopEdge) and edge.source == clerk]
    if not loops or set(loops[0]) != trial:
        raise ConfigError(f"{at}: needs a loop edge to every prosecution, defence and witness node, and only those")
    for node_id in sorted(trial):
        if set(graph.successors(node_id)) != {clerk}:
            raise ConfigError(f"{where}node {node_id!r}: a {body.nodes[node_id].role} hands back to the clerk only")


def _sources(edge: Any) -> list[str]:
    """The nodes an edge leaves from."""
    return [edge.source] if isinstance(edge, LoopEdge) else edge[0]


def _asked(body: GraphBody, graph: nx.DiGraph, node_id: str) -> list[str]:
    """The speakers ``node_id``'s edges lead to."""
    return [n for n in graph.successors(node_id) if n in body.nodes and body.nodes[n].role in SPEAKERS]


def _builder(body: GraphBody, resolve: Resolve, where: str, seat: bool = False) -> StateGraph:
    """A ``StateGraph`` of a validated ``body``: agents, nodes, edges; ``seat`` for a judging-seat subgraph."""
    graph = _digraph(body, where)
    agents = _agents(body, resolve, where)
    speakers = [node_id for node_id, node in body.nodes.items() if node.role in SPEAKERS]
    jurors = [node_id for node_id, node in body.nodes.items() if node.role == "juror"]
    joins = {node_id for node_id, node in body.nodes.items() if node.role == "round_end"}
    steps = _docket(body)
    builder = seat_builder() if seat else StateGraph(DebateState)
    for node_id, node in body.nodes.items():
        match node.role:
            case "sides":
                builder.add_node(node_id, sides_node(_assign(node, [agents[s] for s in speakers])))
            case "debater" | "consultant":
                simultaneous = not joins.isdisjoint(graph.successors(node_id))
                builder.add_node(node_id, speaker_node(agents[node_id], simultaneous=simultaneous))
            case "judge" | "juror":
                builder.add_node(node_id, judge_node(agents[node_id], sees_evidence=node.sees_evidence))
            case "judge_question":
                builder.add_node(node_id, question_node(agents[node_id], _asked(body, graph, node_id)[0]))
            case "aggregate":
                builder.add_node(node_id, aggregate_node(seat_rule(node.rule, {}, _weights(body)), jurors))
            case "round_end" | "clerk":
                builder.add_node(node_id, join)
            case "prosecution" | "defence":
                builder.add_node(node_id, advocate_node(agents[node_id], steps, sees_evidence=node.sees_evidence))
            case "witness":
                builder.add_node(node_id, witness_node(agents[node_id], steps))
            case "subgraph":
                assert node.graph is not None  # validated
                subgraph = _builder(node.graph, resolve, f"{where}subgraph {node_id!r}: ", seat=True).compile(
                    name=node_id
                )
                builder.add_node(node_id, subgraph)
    rounds = body.rounds or 0  # validated: set whenever an edge loops
    for edge in body.edges:
        if isinstance(edge, LoopEdge) and body.nodes[edge.source].role == "clerk":
            add_docket(builder, edge.source, steps, TERMINALS.get(edge.exit, edge.exit))
        elif isinstance(edge, LoopEdge):
            add_loop(builder, edge.source, speakers, rounds, edge.loop, TERMINALS.get(edge.exit, edge.exit))
        else:
            sources = [TERMINALS.get(s, s) for s in edge[0]]
            for target in edge[1]:
                builder.add_edge(sources[0] if len(sources) == 1 else sources, TERMINALS.get(target, target))
    return builder


def _docket(body: GraphBody) -> list[Step]:
    """The trial's docket, when ``body`` is a trial (validated: one prosecution, one defence, witnesses)."""
    by_role: dict[str, list[str]] = {role: [] for role in TRIAL}
    for node_id, node in body.nodes.items():
        if node.role in TRIAL:
            by_role[node.role].append(node_id)
    if not by_role["witness"]:
        return []
    return docket(by_role["prosecution"][0], by_role["defence"][0], by_role["witness"], body.rounds or 0)


def _weights(body: GraphBody) -> dict[str, float]:
    """The vote weight of each juror node of ``body``."""
    return {node_id: node.weight for node_id, node in body.nodes.items() if node.role == "juror"}


def _agents(body: GraphBody, resolve: Resolve, where: str) -> dict[str, Any]:
    """The agent of each agent node, named after it; a ``judge_question`` with ``of`` shares its judge's."""
    agents: dict[str, Any] = {}
    for node_id, node in sorted(body.nodes.items(), key=lambda item: item[1].of is not None):
        if node.of is not None:
            agents[node_id] = agents[node.of]
        elif node.model is not None:
            try:
                backend = resolve(node.model)
            except ConfigError as exc:
                raise ConfigError(f"{where}node {node_id!r}: {exc}") from None
            agents[node_id] = _agent(node, backend, node_id)
    return agents


def _agent(node: NodeSpec, backend: Backend, name: str) -> Debater | Judge | Witness:
    """The agent a node of an agent role seats."""
    if node.role in ("prosecution", "defence"):
        return Advocate(backend, role=node.role, name=name)  # type: ignore[arg-type]
    if node.role == "witness":
        return Witness(backend, name=name)
    if node.role == "debater":
        return Debater(backend, name=name)
    if node.role == "consultant":
        return Consultant(backend, name=name)
    if node.role == "juror":
        return Juror(backend, node.persona, name=name, weight=node.weight)
    return Judge(backend, node.persona, name=name)


def _assign(node: NodeSpec, speakers: list[Any]) -> Assign:
    """The side assignment a ``sides`` node asks for."""
    if node.assign == "open":
        return open_sides(speakers)
    names = [s.name for s in speakers]
    return seeded_sides(names, node.seed) if node.assign == "seeded" else fixed_sides(names)
