"""YAML graphs: the shipped files match their Python twins, each validation rule fails one line, a YAML graph runs."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import yaml
from langgraph.graph.state import CompiledStateGraph

from agora.backends import resolve_model
from agora.backends.scripted import ScriptedBackend
from agora.errors import ConfigError
from agora.graphs import load_graph, placeholder_backend

GRAPHS = Path(__file__).resolve().parent.parent / "graphs"
SHIPPED = sorted(path.stem for path in GRAPHS.glob("*.yaml"))
VERDICT = json.dumps({"reasoning": "A's quotes hold up.", "answer": "A", "confidence": 80})
INPUTS = {"question": "Which bridge reopened in 1923?", "answers": ["The old bridge", "The new bridge"]}

BASE = """\
name: debate
rounds: 2
nodes:
  sides: {role: sides, assign: fixed}
  debater_a: {role: debater, model: local}
  debater_b: {role: debater, model: local}
  judge: {role: judge, model: local, persona: skeptical}
edges:
  - [START, sides]
  - [sides, debater_a]
  - [debater_a, debater_b]
  - {from: debater_b, loop: debater_a, exit: judge}
  - [judge, END]
"""
JURY = """\
name: jury
nodes:
  jury:
    role: subgraph
    graph:
      nodes:
        juror_1: {role: juror, model: local}
        juror_2: {role: juror, model: local}
        aggregate: {role: aggregate, rule: majority}
      edges:
        - [START, [juror_1, juror_2]]
        - [[juror_1, juror_2], aggregate]
        - [aggregate, END]
edges:
  - [START, jury]
  - [jury, END]
"""
CONSULTANCY = """\
name: consultancy
rounds: 2
nodes:
  sides: {role: sides, assign: seeded, seed: 0}
  consultant: {role: consultant, model: consultant}
  judge_question: {role: judge_question, of: judge}
  judge: {role: judge, model: judge}
edges:
  - [START, sides]
  - [sides, consultant]
  - {from: consultant, loop: judge_question, exit: judge}
  - [judge_question, consultant]
  - [judge, END]
"""


def twin(stem: str, model: str) -> CompiledStateGraph:
    """``graphs/<stem>.py``'s ``build(model)``."""
    spec = importlib.util.spec_from_file_location(f"graphs_{stem}", GRAPHS / f"{stem}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    graph: CompiledStateGraph = module.build(model)
    return graph


def shape(graph: CompiledStateGraph, xray: bool) -> tuple[list[str], list[tuple[str, str, bool]]]:
    """Node ids and ``(source, target, conditional)`` edges, as LangGraph draws them."""
    drawn = graph.get_graph(xray=xray)
    return sorted(drawn.nodes), sorted((e.source, e.target, e.conditional) for e in drawn.edges)


def scripted_file(tmp_path: Path, replies: list[str]) -> str:
    """A ``scripted:`` model spec replying ``replies`` in order."""
    path = tmp_path / "replies.json"
    path.write_text(json.dumps(replies))
    return f"scripted:{path}"


def test_the_four_protocols_ship_as_yaml_and_python() -> None:
    assert SHIPPED == ["consultancy", "courtroom", "debate", "jury_qa", "simultaneous_debate"]
    assert sorted(path.stem for path in GRAPHS.glob("*.py")) == SHIPPED


@pytest.mark.parametrize("stem", SHIPPED)
def test_shipped_yaml_compiles_to_the_graph_of_its_python_twin(stem: str, tmp_path: Path) -> None:
    from_yaml = load_graph(GRAPHS / f"{stem}.yaml").compile(resolve=placeholder_backend)
    from_python = twin(stem, scripted_file(tmp_path, []))
    assert from_yaml.name == from_python.name
    assert shape(from_yaml, xray=False) == shape(from_python, xray=False)
    assert shape(from_yaml, xray=True) == shape(from_python, xray=True)


@pytest.mark.parametrize("stem", SHIPPED)
async def test_shipped_yaml_runs_like_its_python_twin(stem: str, tmp_path: Path) -> None:
    model = scripted_file(tmp_path, [VERDICT] * 10)  # every agent of both graphs gets its own copy of the script
    from_yaml = load_graph(GRAPHS / f"{stem}.yaml").compile(resolve=lambda _: resolve_model(model))
    yaml_state = await from_yaml.ainvoke(dict(INPUTS))
    python_state = await twin(stem, model).ainvoke(dict(INPUTS))
    for key in ("sides", "transcript", "verdicts", "decision"):
        assert yaml_state.get(key) == python_state.get(key), key


async def test_a_yaml_debate_runs_end_to_end_on_scripted_models(tmp_path: Path) -> None:
    data = yaml.safe_load((GRAPHS / "debate.yaml").read_text())
    for node in data["nodes"].values():
        if "model" in node:
            node["model"] = node["role"]
    path = tmp_path / "debate.yaml"
    path.write_text(yaml.safe_dump(data))
    debaters = ScriptedBackend(lambda _: "My answer is the right one.")
    judge = ScriptedBackend([VERDICT])
    graph = load_graph(path).compile(resolve={"debater": debaters, "judge": judge}.__getitem__)

    state = await graph.ainvoke(dict(INPUTS))

    rounds = data["rounds"]
    assert len(state["transcript"]) == 2 * rounds
    assert [(t.speaker, t.round, t.side) for t in state["transcript"][:2]] == [("debater_a", 1, 0), ("debater_b", 1, 1)]
    assert state["transcript"][-1].round == rounds
    [verdict] = state["verdicts"]
    assert (verdict.judge, verdict.choice, verdict.persona) == ("judge", 0, "skeptical")
    assert len(debaters.calls) == 2 * rounds and len(judge.calls) == 1


async def test_a_yaml_consultancy_questions_the_consultant_between_turns(tmp_path: Path) -> None:
    path = tmp_path / "consultancy.yaml"
    path.write_text(CONSULTANCY)
    consultant = ScriptedBackend(lambda _: "Trust my answer.")
    judge = ScriptedBackend(["Why should I?", VERDICT])
    graph = load_graph(path).compile(resolve={"consultant": consultant, "judge": judge}.__getitem__)

    state = await graph.ainvoke(dict(INPUTS))

    turns = [(t.speaker, t.round) for t in state["transcript"]]
    assert turns == [("consultant", 1), ("judge", 1), ("consultant", 2)]
    assert state["verdicts"][0].judge == "judge" and len(judge.calls) == 2


def replaced(base: str, *edits: tuple[str, str]) -> str:
    for old, new in edits:
        assert old in base, old
        base = base.replace(old, new)
    return base


INVALID = {
    "unknown role": (
        replaced(BASE, ("judge: {role: judge,", "judge: {role: jduge,")),
        "node 'judge': unknown role 'jduge' (did you mean 'judge'?)",
    ),
    "two entries": (
        replaced(BASE, ("  - [START, sides]\n", "  - [START, sides]\n  - [START, debater_a]\n")),
        "START: exactly one edge must leave START (it may fan out), found 2",
    ),
    "no entry": (
        replaced(BASE, ("  - [START, sides]\n", "")),
        "START: exactly one edge must leave START (it may fan out), found 0",
    ),
    "END unreachable": (replaced(BASE, ("  - [judge, END]\n", "")), "END: not reachable from START"),
    "cycle without loop": (
        replaced(
            BASE,
            ("rounds: 2\n", ""),
            (
                "  - {from: debater_b, loop: debater_a, exit: judge}\n",
                "  - [debater_b, debater_a]\n  - [debater_a, judge]\n",
            ),
        ),
        "node 'debater_a': cycle debater_a -> debater_b -> debater_a without a loop edge",
    ),
    "orphan unreachable": (
        replaced(BASE, ("edges:\n", "  spare: {role: judge, model: local}\nedges:\n  - [spare, END]\n")),
        "node 'spare': not reachable from START",
    ),
    "orphan dead end": (
        replaced(BASE, ("edges:\n", "  spare: {role: judge, model: local}\nedges:\n  - [debater_a, spare]\n")),
        "node 'spare': cannot reach END",
    ),
    "unknown node": (
        replaced(BASE, ("  - [judge, END]", "  - [judg, END]")),
        "edge 5: unknown node 'judg' (did you mean 'judge'?)",
    ),
    "rounds zero": (replaced(BASE, ("rounds: 2", "rounds: 0")), "node 'debater_b': its loop needs rounds >= 1, got 0"),
    "rounds missing": (replaced(BASE, ("rounds: 2\n", "")), "node 'debater_b': its loop needs rounds >= 1, got None"),
    "judge without model": (
        replaced(BASE, ("{role: judge, model: local, persona: skeptical}", "{role: judge}")),
        "node 'judge': role 'judge' needs a 'model'",
    ),
    "juror without model": (
        replaced(JURY, ("juror_2: {role: juror, model: local}", "juror_2: {role: juror}")),
        "subgraph 'jury': node 'juror_2': role 'juror' needs a 'model'",
    ),
    "option of another role": (
        replaced(BASE, ("debater_a: {role: debater, model: local}", "debater_a: {role: debater, model: x, rule: y}")),
        "node 'debater_a': 'rule' does not apply to role 'debater'",
    ),
    "misspelt option": (
        replaced(BASE, ("persona: skeptical", "persnoa: skeptical")),
        "node 'judge': persnoa: unknown field",
    ),
    "unknown persona": (
        replaced(BASE, ("persona: skeptical", "persona: skeptikal")),
        "node 'judge': unknown persona 'skeptikal' (did you mean 'skeptical'?)",
    ),
    "unknown rule": (
        replaced(JURY, ("rule: majority", "rule: majorty")),
        "subgraph 'jury': node 'aggregate': unknown rule 'majorty' (did you mean 'majority'?)",
    ),
    "unknown assignment": (
        replaced(BASE, ("assign: fixed", "assign: random")),
        "node 'sides': assign: Input should be 'fixed', 'seeded' or 'open'",
    ),
    "loop source with another edge": (
        replaced(BASE, ("  - [judge, END]\n", "  - [judge, END]\n  - [debater_b, END]\n")),
        "node 'debater_b': a loop's source can have no other edge leaving it",
    ),
    "loop that never comes back": (
        replaced(BASE, ("loop: debater_a, exit: judge}", "loop: judge, exit: judge}")),
        "node 'debater_b': its loop goes to 'judge', which never comes back",
    ),
    "rounds without loop": (
        replaced(BASE, ("  - {from: debater_b, loop: debater_a, exit: judge}", "  - [debater_b, judge]")),
        "rounds: set to 2 but no edge loops",
    ),
    "speakers without sides": (
        replaced(
            BASE,
            ("  sides: {role: sides, assign: fixed}\n", ""),
            ("  - [START, sides]\n  - [sides, debater_a]\n", "  - [START, debater_a]\n"),
        ),
        "node 'debater_a': a debater needs a sides node to assign its answer",
    ),
    "question to nobody": (
        replaced(CONSULTANCY, ("[judge_question, consultant]", "[judge_question, sides]")),
        "node 'judge_question': a judge_question must lead to one debater or consultant",
    ),
    "question of a non-judge": (
        replaced(CONSULTANCY, ("of: judge", "of: consultant")),
        "node 'judge_question': 'of' must name a judge node, got 'consultant'",
    ),
    "join and fan-out at once": (
        replaced(JURY, ("[[juror_1, juror_2], aggregate]", "[[juror_1, juror_2], [aggregate, juror_1]]")),
        "subgraph 'jury': edge 2: an edge joins several nodes or fans out to several, not both",
    ),
    "edge into START": (
        replaced(BASE, ("  - [judge, END]", "  - [judge, END]\n  - [judge, START]")),
        "edge 6: no edge leaves END or enters START",
    ),
    "reserved node id": (
        replaced(BASE, ("  judge: {role: judge,", "  END: {role: judge,")),
        "node 'END': a node id is letters, digits, '_' and '-', and not START or END",
    ),
    "loop edge without exit": (
        replaced(BASE, (", exit: judge}", "}")),
        "edge 4: exit: Field required",
    ),
    "not a mapping": ("- [START, END]\n", "a graph must be a mapping"),
    "bad yaml": ("name: [unclosed\n", "not valid YAML"),
}


@pytest.mark.parametrize("content, message", list(INVALID.values()), ids=list(INVALID))
def test_an_invalid_graph_fails_with_one_line_naming_the_file_and_the_node(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(content)
    with pytest.raises(ConfigError) as info:
        load_graph(path)
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_a_bad_model_spec_names_the_file_and_the_node_when_compiling(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(replaced(BASE, ("{role: judge, model: local,", "{role: judge, model: 'opneai:gpt',")))
    with pytest.raises(ConfigError, match=r"x\.yaml: node 'judge': model spec 'opneai:gpt': unknown backend 'opneai'"):
        load_graph(path).compile(
            resolve=lambda spec: placeholder_backend(spec) if spec == "local" else resolve_model(spec)
        )


WEIGHTED_JURY = """\
name: weighted
nodes:
  heavy: {role: juror, model: says_a, weight: 3}
  light_1: {role: juror, model: says_b}
  light_2: {role: juror, model: says_b}
  aggregate: {role: aggregate, rule: RULE}
edges:
  - [START, [heavy, light_1, light_2]]
  - [[heavy, light_1, light_2], aggregate]
  - [aggregate, END]
"""


async def test_juror_weights_in_a_graph_reach_a_weighted_rule(tmp_path: Path) -> None:
    path = tmp_path / "weighted.yaml"
    path.write_text(WEIGHTED_JURY.replace("RULE", "weighted"))
    says = {
        "says_a": ScriptedBackend(lambda _: VERDICT),
        "says_b": ScriptedBackend(lambda _: VERDICT.replace('"A"', '"B"')),
    }
    state = await load_graph(path).compile(resolve=says.__getitem__).ainvoke(dict(INPUTS))
    assert (state["decision"].outcome, state["decision"].votes) == (0, [3.0, 2.0])

    path.write_text(WEIGHTED_JURY.replace("RULE", "majority"))
    with pytest.raises(ConfigError, match="node 'aggregate': rule 'majority' takes no weights, and jurors carry them"):
        load_graph(path)
