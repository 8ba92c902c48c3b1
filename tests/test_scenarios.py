"""Scenario files: the bundled ones are valid; every malformed one fails with one line naming file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from agora.cli import main
from agora.errors import ConfigError
from agora.paths import SCENARIOS_DIR
from agora.protocols.kinds import DebateSpec, DirectQASpec
from agora.runner.cache import ResponseCache
from agora.runner.study import Study
from agora.scenarios import load_scenario
from tests.fixtures.scenarios import refused, write_scenario

ROWS = [{"id": f"q{i}", "question": f"Q{i}?", "answers": ["yes", "no"], "gold": i % 2} for i in range(3)]


def write(tmp_path: Path, body: dict | str, name: str = "x.yaml") -> Path:
    return write_scenario(tmp_path, body, ROWS, name=name)


def good() -> dict:
    return {
        "name": "x",
        "data": {"loader": "jsonl", "path": "items.jsonl"},
        "judges": [{"persona": "mainstream"}, {"persona": "skeptical"}],
        "protocols": [{"kind": "debate", "rounds": 1}, {"kind": "direct_qa"}],
    }


def test_a_good_scenario_resolves_paths_against_its_file(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path, good()))
    assert scenario.data[0].path == tmp_path / "items.jsonl"
    assert [type(p) for p in scenario.protocols] == [DebateSpec, DirectQASpec]
    assert scenario.protocols[0].rounds == 1 and scenario.models.of("judge") == "local"
    assert scenario.digest() == load_scenario(write(tmp_path, good())).digest()
    changed = good() | {"seed": 7}
    assert load_scenario(write(tmp_path, changed)).digest() != scenario.digest()


def test_data_placeholder_is_the_shared_data_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGORA_DATA", str(tmp_path))
    body = good() | {"data": {"loader": "jsonl", "path": "{data}/items.jsonl"}}
    assert load_scenario(write(tmp_path, body)).data[0].path == tmp_path / "items.jsonl"


def edit(change: dict) -> dict:
    body = good()
    for dotted, value in change.items():
        *parents, last = dotted.split(".")
        node = body
        for key in parents:
            node = node.setdefault(key, {}) if not key.isdigit() else node[int(key)]
        if value is ...:
            del node[last]
        elif last.isdigit():
            node[int(last)] = value
        else:
            node[last] = value
    return body


MALFORMED = [
    ({"jury.rule": "majorty"}, "jury.rule: unknown rule 'majorty' (did you mean 'majority'?)"),
    ({"jury.min_confidence": 140}, "jury: thresholds: min_confidence must be between 0 and 100, got 140"),
    ({"jury.checks": ["masterkeys"]}, "jury.checks: no live check 'masterkeys' (did you mean 'master-keys'?)"),
    ({"jury.params": {"quota": 0.5}}, "jury: rule 'majority': got an unexpected keyword argument 'quota'"),
    ({"data.loader": "jsonlines"}, "data.0.loader: unknown loader 'jsonlines'"),
    ({"data.path": "missing.jsonl"}, "data.0.path: no such file:"),
    ({"data.limit": -1}, "data.0.limit: Input should be greater than or equal to 0"),
    ({"data": ...}, "data: Field required"),
    ({"protocols": []}, "protocols: List should have at least 1 item"),
    ({"protocols.0": {"kind": "debat"}}, "protocols: unknown protocol kind 'debat' (did you mean 'debate'?)"),
    (
        {"protocols.0": {"kind": "debate", "rounds": 0}},
        "protocols.0.rounds: Input should be greater than or equal to 1",
    ),
    ({"protocols.0": {"kind": "debate", "turns": 2}}, "protocols.0.turns: unknown field"),
    (
        {"protocols.1": {"kind": "probes", "checks": ["positon"]}},
        "protocols.1.checks: no probe check 'positon' (did you mean 'position'?)",
    ),
    ({"protocols.1": {"kind": "debate"}}, "protocols: names must be unique, 'debate' is used twice"),
    ({"judges.0": {"persona": "mainstrem"}}, "judges.0.persona: unknown persona 'mainstrem'"),
    ({"judges.0": {"persona": "skeptical"}}, "judges: names must be unique, 'skeptical' is used twice"),
    ({"models.judge": "opnai:gpt-4o"}, "models.judge: unknown backend 'opnai' (did you mean 'openai'?)"),
    ({"metrics": ["acuracy"]}, "metrics: unknown metric 'acuracy' (did you mean 'accuracy'?)"),
    ({"limits": {"opena": {"concurrency": 4}}}, "limits: unknown provider 'opena' (did you mean 'openai'?)"),
    (
        {"limits": {"openai": {"concurrency": 0}}},
        "limits.openai.concurrency: Input should be greater than or equal to 1",
    ),
    ({"concurrency": "many"}, "concurrency: Input should be a valid integer"),
    ({"temperature": 0.5}, "temperature: unknown field"),
    ({"settings": {"timeout": 0}}, "settings.timeout: Input should be greater than 0"),
]


@pytest.mark.parametrize(("change", "message"), MALFORMED, ids=[m for _, m in MALFORMED])
def test_a_malformed_scenario_is_one_line_naming_file_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: dict, message: str
) -> None:
    path = write(tmp_path, edit(change))
    line = refused(path, tmp_path / "run", capsys)
    assert line.startswith(f"agora: error: ConfigError: {path}: {message}"), line


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: [unclosed", "line 1: not valid YAML"),
        ("- just\n- a list\n", "a scenario must be a mapping, got list"),
    ],
)
def test_a_file_that_is_not_a_scenario(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=f"^{path}: {message}"):
        load_scenario(path)


def test_a_missing_scenario_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the scenario"):
        load_scenario(tmp_path / "nope.yaml")


def test_the_bundled_scenarios_are_valid(capsys: pytest.CaptureFixture[str]) -> None:
    bundled = sorted(SCENARIOS_DIR.glob("*.yaml"))
    assert {p.stem for p in bundled} >= {"covid-debate", "truthfulqa-jury", "llmbar-probes"}
    with pytest.raises(SystemExit) as exit_:
        main(["scenarios"])
    assert exit_.value.code == 0, capsys.readouterr().err
    shown = capsys.readouterr().out
    for path in bundled:
        assert load_scenario(path).name in shown


def test_scenarios_exits_2_naming_each_invalid_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ok = write(tmp_path, good(), "ok.yaml")
    bad = write(tmp_path, edit({"jury.rule": "majorty"}), "bad.yaml")
    with pytest.raises(SystemExit) as exit_:
        main(["scenarios", str(ok), str(bad)])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"agora: error: {bad}: jury.rule: unknown rule 'majorty' (did you mean 'majority'?)"]


def test_retry_timeouts_reaches_the_retry_policy(tmp_path: Path) -> None:
    default = Study(load_scenario(write(tmp_path, good())), cache=ResponseCache(tmp_path / "c.sqlite"))
    asked = good() | {"retry": {"max_retries": 1, "timeouts": True}}
    study = Study(load_scenario(write(tmp_path, asked, name="y.yaml")), cache=ResponseCache(tmp_path / "d.sqlite"))
    assert (default.retry.timeouts, study.retry.timeouts, study.retry.max_retries) == (False, True, 1)
