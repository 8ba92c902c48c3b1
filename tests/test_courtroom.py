"""The courtroom protocol: who sees the evidence, the phases of the docket, witnesses' quotes, the YAML graph, the
scenario kind and the bundled scenario run end to end."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from agora.agents.judge import Judge
from agora.agents.juror import Juror
from agora.agents.witness import Witness
from agora.backends.scripted import ScriptedBackend
from agora.cli import main
from agora.errors import ConfigError
from agora.graphs import GraphSpec
from agora.protocols import Jury, courtroom
from agora.protocols.courtroom import Advocate
from agora.protocols.steps import Steps
from agora.runner.options import Options
from agora.runner.run import Run
from agora.scenarios import load_scenario
from agora.types import Message
from tests.fixtures import hashed
from tests.fixtures.scenarios import numbered_rows, write_scenario

ROOT = Path(__file__).resolve().parents[1]
MARKER = "ZEBRA-7781"
EVIDENCE = f"Harbour log {MARKER}. The Kessel bridge was closed on 4 March 1921 after the spring flood."
TRUE_QUOTE = "The Kessel bridge was closed on 4 March 1921"
FAKE_QUOTE = "the bridge stayed open throughout 1921"
INPUTS = {"question": "The Kessel bridge was closed in 1921.", "answers": ["True", "False"], "evidence": EVIDENCE}
VERDICT = json.dumps({"reasoning": "The witness quoted the log.", "answer": "A", "confidence": 80})


def talker(name: str, quote: str = "") -> ScriptedBackend:
    """Replies ``"<name> call <n>."``, with ``quote`` in quote tags when given."""
    backend: ScriptedBackend

    def reply(messages: Sequence[Message]) -> str:
        return f"{name} call {len(backend.calls)}." + (f" <quote>{quote}</quote>" if quote else "")

    backend = ScriptedBackend(reply)
    return backend


def prompts(backend: ScriptedBackend) -> list[str]:
    """The whole prompt of each call ``backend`` received."""
    return ["\n".join(m.content for m in call.messages) for call in backend.calls]


def trial(
    witnesses: int = 1, rounds: int = 1, seat: Any = None, **options: Any
) -> tuple[Any, dict[str, ScriptedBackend]]:
    """A courtroom on scripted backends (witnesses quote the evidence, truly then falsely), and its backends."""
    backends = {"prosecution": talker("prosecution"), "defence": talker("defence"), "judge": talker("judge")}
    backends["judge"] = ScriptedBackend(lambda messages: VERDICT)
    called = []
    for i in range(1, witnesses + 1):
        quotes = iter([TRUE_QUOTE, FAKE_QUOTE] * rounds * 2)
        backends[f"witness_{i}"] = ScriptedBackend(
            lambda messages, quotes=quotes, i=i: f"Witness {i}: <quote>{next(quotes)}</quote>"
        )
        called.append(Witness(backends[f"witness_{i}"], name=f"witness_{i}"))
    graph = courtroom(
        Advocate(backends["prosecution"], role="prosecution"),
        Advocate(backends["defence"], role="defence"),
        called,
        seat or Judge(backends["judge"]),
        rounds=rounds,
        **options,
    )
    return graph, backends


async def test_witnesses_read_the_evidence_and_the_advocates_and_judge_see_only_the_trial() -> None:
    graph, backends = trial(witnesses=2)
    state = await graph.ainvoke(dict(INPUTS))
    for i in (1, 2):
        seen = prompts(backends[f"witness_{i}"])
        assert len(seen) == 2 and all(MARKER in p for p in seen)
        assert f"Examine witness_{i}" not in seen[0]  # the question is in the transcript, not a task for the witness
    for name in ("prosecution", "defence", "judge"):
        assert backends[name].calls and not any(MARKER in p for p in prompts(backends[name])), name
    assert TRUE_QUOTE in prompts(backends["judge"])[0]  # the testimony reaches the judge, the evidence does not
    assert state["sides"] == {"prosecution": 0, "defence": 1}


async def test_advocates_see_the_evidence_when_the_protocol_grants_it() -> None:
    graph, backends = trial(advocates_see_evidence=True)
    await graph.ainvoke(dict(INPUTS))
    assert all(MARKER in p for name in ("prosecution", "defence") for p in prompts(backends[name]))
    assert not any(MARKER in p for p in prompts(backends["judge"]))


async def test_the_docket_runs_openings_examinations_and_closings_in_order() -> None:
    graph, backends = trial(witnesses=2, rounds=2)
    state = await graph.ainvoke(dict(INPUTS))
    exam = []
    for w in ("witness_1", "witness_2"):
        exam += [("prosecution", 2), (w, 2)] * 2 + [("defence", 2), (w, 2)] * 2
    opening, closing = [("prosecution", 1), ("defence", 1)], [("prosecution", 3), ("defence", 3)]
    assert [(t.speaker, t.round) for t in state["transcript"]] == opening + exam + closing
    assert {t.role for t in state["transcript"]} == {"prosecution", "defence", "witness"}
    tasks = [p.rsplit("\n\n", 1)[-1] for p in prompts(backends["prosecution"])]
    assert tasks[0].startswith("Give your opening statement")
    assert (
        tasks[1:5]
        == ["Examine witness_1: ask it one question whose answer supports your case."] * 2
        + ["Examine witness_2: ask it one question whose answer supports your case."] * 2
    )
    assert tasks[5].startswith("Give your closing statement")
    assert [p.rsplit("\n\n", 1)[-1].split(":")[0] for p in prompts(backends["defence"])][1:3] == [
        "Cross-examine witness_1"
    ] * 2
    # each witness answers the question just put to it
    asked = next(t for t in state["transcript"] if t.role == "prosecution" and t.round == 2)
    assert asked.text in prompts(backends["witness_1"])[0]


async def test_a_witness_quotes_are_verified_against_the_evidence() -> None:
    graph, backends = trial()
    state = await graph.ainvoke(dict(INPUTS))
    testimony = [t for t in state["transcript"] if t.role == "witness"]
    assert [[q.verified for q in t.quotes] for t in testimony] == [[True], [False]]
    judged = prompts(backends["judge"])[0]
    assert f"<v_quote>{TRUE_QUOTE}</v_quote>" in judged and f"<u_quote>{FAKE_QUOTE}</u_quote>" in judged


async def test_a_jury_in_the_judges_seat_decides_without_the_evidence() -> None:
    jurors = [ScriptedBackend(lambda messages: VERDICT) for _ in range(3)]
    jury = Jury([Juror(b, name=f"juror_{i}") for i, b in enumerate(jurors)])
    graph, _ = trial(seat=jury)
    state = await graph.ainvoke(dict(INPUTS))
    assert state["decision"].outcome == 0 and len(state["verdicts"]) == 3
    assert all(b.calls and not any(MARKER in p for p in prompts(b)) for b in jurors)
    steps = Steps.of(graph)
    assert steps is not None  # the runner's fast path takes it


def test_a_trial_without_a_witness_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"^courtroom: witnesses: "):
        courtroom(
            Advocate(ScriptedBackend([]), role="prosecution"),
            Advocate(ScriptedBackend([]), role="defence"),
            [],
            Judge(ScriptedBackend([])),
        )


def courtroom_yaml() -> dict[str, Any]:
    body: dict[str, Any] = yaml.safe_load((ROOT / "graphs" / "courtroom.yaml").read_text())
    return body


def test_a_yaml_trial_without_a_witness_names_the_clerk_and_witnesses() -> None:
    body = courtroom_yaml()
    del body["nodes"]["witness_1"]
    body["edges"] = [e for e in body["edges"] if e != ["witness_1", "clerk"]]
    body["edges"][2]["loop"] = ["prosecution", "defence"]
    with pytest.raises(ConfigError, match=r"node 'clerk': witnesses: a trial needs at least one witness$"):
        GraphSpec.model_validate(body)


def witness_called_directly(body: dict[str, Any]) -> None:
    body["edges"][1] = ["sides", "witness_1"]
    body["edges"][2]["loop"] = ["prosecution", "defence"]


def witness_leading_to_the_judge(body: dict[str, Any]) -> None:
    body["edges"][5] = ["witness_1", ["clerk", "judge"]]


def two_prosecutors(body: dict[str, Any]) -> None:
    body["nodes"]["p2"] = body["nodes"]["prosecution"]
    body["edges"][2]["loop"].append("p2")
    body["edges"].append(["p2", "clerk"])


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (witness_called_directly, "node 'clerk': needs a loop edge to every prosecution, defence and witness"),
        (witness_leading_to_the_judge, "node 'witness_1': a witness hands back to the clerk only"),
        (two_prosecutors, "node 'clerk': a trial needs one prosecution and one defence"),
    ],
)
def test_a_yaml_trial_must_loop_through_its_clerk(change: Any, problem: str) -> None:
    body = courtroom_yaml()
    change(body)
    with pytest.raises(ConfigError, match=problem):
        GraphSpec.model_validate(body)


def test_a_scenario_courtroom_without_witnesses_exits_2_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = {
        "name": "s",
        "data": {"loader": "jsonl", "path": "items.jsonl"},
        "models": {"default": "hashed:m"},
        "protocols": [{"kind": "courtroom", "witnesses": 0}],
    }
    path = write_scenario(tmp_path, body, numbered_rows(1))
    with pytest.raises(SystemExit) as exit_:
        main(["run", str(path), "--out", str(tmp_path / "run")])
    lines = capsys.readouterr().err.strip().splitlines()
    assert exit_.value.code == 2 and len(lines) == 1
    assert "protocols.0.witnesses" in lines[0] and lines[0].startswith("agora: error: ConfigError: ")


def test_the_bundled_scenario_compares_the_protocols_on_one_item_end_to_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGORA_CACHE_DIR", str(tmp_path / "cache"))
    hashed.reset()
    bundled = ROOT / "scenarios" / "courtroom.yaml"
    assert [p.kind for p in load_scenario(bundled).protocols] == ["courtroom", "debate", "consultancy"]
    body = yaml.safe_load(bundled.read_text()) | {"models": {"default": "hashed:m"}}
    path = tmp_path / "courtroom.yaml"
    path.write_text(yaml.safe_dump(body))
    the_run = Run.create(load_scenario(path), Options(limit=1), tmp_path / "run", path)
    asyncio.run(the_run.execute())
    records = {r.protocol: r for r in the_run.store.records()}
    assert set(records) == {"courtroom", "debate", "consultancy"}
    assert {r.status for r in records.values()} == {"ok"} and len({r.item for r in records.values()}) == 1
    court = records["courtroom"]
    assert [t.speaker for t in court.transcript].count("witness_2") == 2 and court.decision is not None
    assert {v.persona for v in court.verdicts} == {"mainstream", "skeptical"}
