"""The runner's fast path runs a protocol's compiled graph in plain supersteps: for every protocol a scenario can
name, every bundled YAML graph and a jury critic, it must end in exactly the state LangGraph's ``ainvoke`` gives."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

import tests.fixtures.hashed  # noqa: F401 - registers hashed:
from agora.backends import resolve_model
from agora.graphs import load_graph
from agora.protocols.jury import Jury
from agora.protocols.steps import Steps
from agora.runner.cache import ResponseCache
from agora.runner.study import Study
from agora.scenarios import parse_scenario
from agora.state import DebateState
from tests.fixtures.scenarios import numbered_rows, write_scenario

ROOT = Path(__file__).resolve().parents[1]
JUDGES = [{"persona": "mainstream"}, {"persona": "skeptical"}, {"persona": "expert"}]
PROTOCOLS: dict[str, dict[str, Any]] = {
    "debate": {"kind": "debate", "rounds": 2},
    "simultaneous": {"kind": "debate", "rounds": 2, "simultaneous": True},
    "open": {"kind": "debate", "rounds": 1, "open": True},
    "consultancy": {"kind": "consultancy", "rounds": 2, "judge_questions": True},
    "blind": {"kind": "direct_qa"},
    "oracle": {"kind": "direct_qa", "oracle": True},
    "courtroom": {"kind": "courtroom", "rounds": 1, "witnesses": 2},
}
SEATS: dict[str, dict[str, Any]] = {
    "jury": {"judges": JUDGES, "jury": {"rule": "majority"}},
    "checked": {"judges": JUDGES[:2], "jury": {"rule": "majority", "checks": ["position", "unverified-quotes"]}},
    "thresholds": {"judges": JUDGES, "jury": {"rule": "confidence_weighted", "min_confidence": 75, "quorum": 2}},
    "cascade": {
        "judges": [{"name": "first", "persona": "mainstream"}, *JUDGES[1:]],
        "cascade": [{"judges": ["first"], "accept_confidence": 80}, {"judges": ["skeptical", "expert"]}],
    },
}


def dumped(state: dict[str, Any]) -> dict[str, Any]:
    """A state with its models as plain data, latencies left out (they are measured, not computed)."""

    def plain(value: Any) -> Any:
        if hasattr(value, "model_dump"):
            return plain(value.model_dump())
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items() if k != "latency_s"}
        if isinstance(value, list | tuple):
            return [plain(v) for v in value]
        return value

    return plain(state)  # type: ignore[no-any-return]


async def same_end(graph: CompiledStateGraph, given: dict[str, Any]) -> dict[str, Any]:
    steps = Steps.of(graph)
    assert steps is not None, graph.name
    expected = await graph.ainvoke(given)
    got = await steps.run(given)
    assert dumped(got) == dumped(expected)
    return got


@pytest.mark.parametrize("seat", list(SEATS))
@pytest.mark.parametrize("protocol", list(PROTOCOLS))
async def test_every_scenario_protocol_ends_where_langgraph_does(tmp_path: Path, protocol: str, seat: str) -> None:
    body = {"name": "s", "data": {"loader": "jsonl", "path": "items.jsonl"}, "models": {"default": "hashed:x"}}
    body |= {"protocols": [PROTOCOLS[protocol]], **SEATS[seat]}
    path = write_scenario(tmp_path, body, numbered_rows(4, evidence="The sky is blue on day {i}."))
    scenario = parse_scenario(__import__("yaml").safe_load(path.read_text()), path)
    study = Study(scenario, cache=ResponseCache(tmp_path / "calls.sqlite"))
    from agora.runner.run import items

    decided = 0
    for item in items(scenario):
        got = await same_end(study.graph(scenario.protocols[0].name, len(item.answers)), item.state())  # type: ignore[union-attr]
        decided += got.get("decision") is not None
    assert decided == 4


@pytest.mark.parametrize("stem", ["debate", "simultaneous_debate", "consultancy", "jury_qa", "courtroom"])
async def test_every_bundled_graph_ends_where_langgraph_does(stem: str) -> None:
    graph = load_graph(ROOT / "graphs" / f"{stem}.yaml").compile(resolve=lambda _: resolve_model("hashed:x"))
    given = {"question": "Is the sky blue?", "answers": ["Yes.", "No."], "evidence": "The sky is blue."}
    got = await same_end(graph, given)
    assert got["verdicts"] and all(v.error is None for v in got["verdicts"])


async def test_a_jury_critic_ends_where_langgraph_does() -> None:
    jury = Jury(["hashed:a", "hashed:b", "hashed:c"], "majority")
    got = await same_end(jury.critic(), {"task": "Add 2 and 2.", "output": "4"})
    assert got["critique"].outcome in ("accept", "reject", "inconclusive")


def test_graphs_beyond_plain_steps_are_left_to_langgraph() -> None:
    def node(state: DebateState) -> dict[str, Any]:
        return {}

    builder = StateGraph(DebateState)
    builder.add_node("n", node)
    builder.add_edge(START, "n")
    builder.add_edge("n", END)
    assert Steps.of(builder.compile()) is not None
    assert Steps.of(builder.compile(checkpointer=InMemorySaver())) is None  # checkpoints need Pregel
    assert Steps.of(builder.compile(interrupt_before=["n"])) is None
