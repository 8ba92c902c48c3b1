"""``agora graph run``: every bundled graph runs from the command line on the deterministic ``hashed`` backend."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import tests.fixtures.hashed as hashed
from agora.cli import main
from agora.graphs import GraphBody, load_graph

GRAPHS = sorted((Path(__file__).resolve().parents[1] / "graphs").glob("*.yaml"))
QUESTION = ["--question", "What is the capital of France?", "--answer", "Paris", "--answer", "Berlin"]


def agora(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of ``agora ARGS...`` run in process."""
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    out, err = capsys.readouterr()
    return int(exited.value.code or 0), out, err


def roles(body: GraphBody, wanted: set[str]) -> set[str]:
    """The ids of the nodes of ``body`` (subgraphs included) whose role is in ``wanted``."""
    found = {node_id for node_id, node in body.nodes.items() if node.role in wanted}
    for node in body.nodes.values():
        if node.graph is not None:
            found |= roles(node.graph, wanted)
    return found


def speakers(body: GraphBody) -> set[str]:
    """Who speaks in the transcript: every node seating a model but a judge's or juror's, and the judge a
    judge_question reuses (so a graph with a new speaking role is covered without a change here)."""
    seated = {node_id for node_id, node in body.nodes.items() if node.model and node.role not in {"judge", "juror"}}
    return seated | {node.of for node in body.nodes.values() if node.of}


def has_jury(body: GraphBody) -> bool:
    return bool(roles(body, {"aggregate"}))


@pytest.fixture(autouse=True)
def fresh_calls() -> None:
    hashed.reset()


def test_every_bundled_graph_is_covered() -> None:
    assert {path.stem for path in GRAPHS} >= {"debate", "consultancy", "jury_qa", "simultaneous_debate"}


@pytest.mark.parametrize("path", GRAPHS, ids=[p.stem for p in GRAPHS])
def test_graph_run_prints_the_transcript_and_the_ruling(capsys: pytest.CaptureFixture[str], path: Path) -> None:
    spec = load_graph(path)
    code, out, err = agora(capsys, "graph", "run", str(path), *QUESTION, "--model", "hashed:x")
    assert code == 0, err
    for speaker in speakers(spec):
        assert f"] {speaker} (" in out
    if has_jury(spec):
        for juror in roles(spec, {"juror"}):
            assert f"│ {juror} " in out
        assert "decision  " in out and "rule majority" in out
    else:
        assert "choice      " in out and "hashed:x ·" in out
    assert hashed.calls and all(key.startswith("x:") for key in hashed.calls)  # --model replaced every model


@pytest.mark.parametrize("path", GRAPHS, ids=[p.stem for p in GRAPHS])
def test_graph_run_json_has_transcript_verdicts_and_decision(capsys: pytest.CaptureFixture[str], path: Path) -> None:
    spec = load_graph(path)
    code, out, err = agora(capsys, "graph", "run", str(path), *QUESTION, "--model", "hashed:x", "--json")
    assert code == 0, err
    payload: dict[str, Any] = json.loads(out)
    assert payload["graph"] == spec.name
    assert payload["answers"] == ["Paris", "Berlin"]
    assert {t["speaker"] for t in payload["transcript"]} == speakers(spec)
    judges = roles(spec, {"judge", "juror"})
    assert {v["judge"] for v in payload["verdicts"]} == judges
    for verdict in payload["verdicts"]:
        assert verdict["answer"] == payload["answers"][verdict["choice"]]
    if has_jury(spec):
        decision = payload["decision"]
        assert sum(decision["votes"]) == len(judges)
        assert decision["answer"] == payload["answers"][decision["outcome"]]
    else:
        assert "decision" not in payload


GRAPH = """
name: small
rounds: 1
nodes:
  sides: {role: sides}
  debater_a: {role: debater, model: hashed:file}
  debater_b: {role: debater, model: hashed:file}
  judge: {role: judge, model: hashed:file, persona: skeptical}
edges:
  - [START, sides]
  - [sides, debater_a]
  - [debater_a, debater_b]
  - {from: debater_b, loop: debater_a, exit: judge}
  - [judge, END]
"""


def test_without_model_the_files_models_are_used(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "small.yaml"
    path.write_text(GRAPH, encoding="utf-8")
    code, out, err = agora(capsys, "graph", "run", str(path), *QUESTION, "--json")
    assert code == 0, err
    (verdict,) = json.loads(out)["verdicts"]
    assert (verdict["model"], verdict["persona"]) == ("hashed:file", "skeptical")
    assert len(hashed.calls) == 3 and all(key.startswith("file:") for key in hashed.calls)


def test_a_graph_without_a_judge_prints_its_transcript_only(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "talk.yaml"
    judged = GRAPH.replace("exit: judge", "exit: END").replace("  - [judge, END]\n", "")
    path.write_text(
        judged.replace("  judge: {role: judge, model: hashed:file, persona: skeptical}\n", ""), encoding="utf-8"
    )
    code, out, err = agora(capsys, "graph", "run", str(path), *QUESTION)
    assert code == 0, err
    assert "] debater_b (" in out and "choice" not in out
    code, out, err = agora(capsys, "graph", "run", str(path), *QUESTION, "--json")
    assert code == 0, err
    assert json.loads(out)["verdicts"] == [] and len(json.loads(out)["transcript"]) == 2


def test_the_evidence_reaches_the_speakers(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "small.yaml"
    path.write_text(GRAPH, encoding="utf-8")
    turns = []
    for text in ("Paris is the capital.", "Berlin is the capital."):
        evidence = tmp_path / "evidence.txt"
        evidence.write_text(text, encoding="utf-8")
        code, out, err = agora(capsys, "graph", "run", str(path), *QUESTION, "--evidence", str(evidence), "--json")
        assert code == 0, err
        turns.append([t["text"] for t in json.loads(out)["transcript"]])
    assert turns[0] != turns[1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["graph", "run", "missing.yaml", *QUESTION], "missing.yaml: cannot read the graph"),
        (["graph", "run", "{bad}", *QUESTION], "bad.yaml: nodes: Field required"),
        (["graph", "run", "{badmodel}", *QUESTION], "badmodel.yaml: model spec 'nope:y': unknown backend"),
        (["graph", "run", "{debate}", "--question", "Q", "--answer", "only"], "--answer: give at least two answers"),
        (["graph", "run", "{debate}", *QUESTION, "--evidence", "missing.txt"], "--evidence: missing.txt"),
        (["graph", "run", "{debate}", *QUESTION, "--model", "nope:x"], "--model: model spec 'nope:x'"),
        (["graph", "run", "{debate}", *QUESTION, "--model", " "], "--model: empty model spec"),
        (["graph", "run", "{debate}", "--answer", "a", "--answer", "b"], "Missing option '--question'"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list[str], message: str
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\n", encoding="utf-8")
    (tmp_path / "badmodel.yaml").write_text(GRAPH.replace("hashed:file", "nope:y"), encoding="utf-8")
    files = {"{bad}": bad, "{badmodel}": tmp_path / "badmodel.yaml", "{debate}": GRAPHS[0].parent / "debate.yaml"}
    filled = [str(files.get(arg, arg)) for arg in args]
    code, out, err = agora(capsys, *filled)
    assert code == 2 and not out
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("agora: error: ") and message in lines[0], err
    assert not hashed.calls  # bad input is reported before any model is called
