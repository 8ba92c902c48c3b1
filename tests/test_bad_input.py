"""Bad input fails on one line, before any model call, never with a traceback or a hang (issue 12).

Unwritable paths, text that is not UTF-8, YAML that nests too deep, expands too far or repeats a key, values out of
bounds, data sets with nothing to run: each is one ``agora: error:`` line naming the file, field, flag or path.
"""

from __future__ import annotations

import json
import math
import os
import re
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from agora.cli import main
from agora.config_file import read_mapping
from agora.errors import ConfigError
from agora.graphs import load_graph
from agora.loaders import Source, read
from agora.scenarios import load_scenario
from agora.types import Settings
from tests.fixtures.scenarios import numbered_rows, write_scenario

ROOT = Path(__file__).resolve().parents[1]
QUESTION = ["--question", "Capital of France?", "--answer", "Paris", "--answer", "Berlin"]
NOT_AS_ROOT = pytest.mark.skipif(os.geteuid() == 0, reason="root writes through permission bits")


def scenario(tmp_path: Path, rows: list | None = None, text: str = "", **fields: Any) -> Path:
    """A valid scenario (a scripted model with no replies: a model call would fail the run) plus ``fields``."""
    (tmp_path / "replies.json").write_text("[]")
    body = {
        "name": "s",
        "data": {"loader": "jsonl", "path": "items.jsonl"},
        "models": {"default": f"scripted:{tmp_path / 'replies.json'}"},
        "protocols": [{"kind": "direct_qa"}],
        "cache": False,
        **fields,
    }
    path = write_scenario(tmp_path, body, numbered_rows(2) if rows is None else rows)
    if text:
        path.write_text(path.read_text() + text)
    return path


def fails(capsys: pytest.CaptureFixture[str], *args: str, code: int = 2) -> str:
    """The one line ``agora ARGS`` prints on stderr as it exits with ``code``."""
    with pytest.raises(SystemExit) as exit_:
        main(list(args))
    lines = capsys.readouterr().err.strip().splitlines()
    assert exit_.value.code == code, lines
    assert len(lines) == 1, lines
    assert lines[0].startswith("agora: error: "), lines[0]
    return lines[0]


# Paths that cannot be written.


def test_run_out_that_is_a_file_is_refused_before_anything_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    taken = tmp_path / "taken"
    taken.write_text("")
    line = fails(capsys, "run", str(scenario(tmp_path)), "--out", str(taken))
    assert line == f"agora: error: ConfigError: --out: {taken}: exists and is not a directory"
    line = fails(capsys, "run", str(scenario(tmp_path)), "--out", str(taken / "run"))
    assert line == f"agora: error: ConfigError: --out: {taken / 'run'}: {taken} is not a directory"


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("output", "taken", "{tmp}/taken: exists and is not a directory"),
        ("output", "taken/run", "{tmp}/taken/run: {tmp}/taken is not a directory"),
        ("cache", "room", "{tmp}/room: is a directory, not a file"),
        ("cache", "taken/calls.sqlite", "{tmp}/taken/calls.sqlite: {tmp}/taken is not a directory"),
    ],
)
def test_scenario_paths_that_cannot_be_written_are_refused_by_scenarios_and_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], field: str, value: str, problem: str
) -> None:
    (tmp_path / "taken").write_text("")
    (tmp_path / "room").mkdir()
    fields: dict[str, Any] = {field: value}
    path = scenario(tmp_path, **fields)
    message = f"{path}: {field}: {problem.format(tmp=tmp_path)}"
    assert fails(capsys, "scenarios", str(path)) == f"agora: error: {message}"
    assert fails(capsys, "run", str(path), "--out", str(tmp_path / "run")) == f"agora: error: ConfigError: {message}"
    assert not (tmp_path / "run").exists()


def test_the_shared_cache_of_a_scenario_must_be_writable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "taken").write_text("")
    monkeypatch.setenv("AGORA_CACHE_DIR", str(tmp_path / "taken" / "cache"))
    path = scenario(tmp_path)
    path.write_text(path.read_text().replace("cache: false\n", ""))  # the default, cache: true
    line = fails(capsys, "scenarios", str(path))
    assert line == f"agora: error: {path}: cache: {tmp_path}/taken/cache: {tmp_path}/taken is not a directory"


@NOT_AS_ROOT
def test_a_read_only_directory_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    line = fails(capsys, "run", str(scenario(tmp_path)), "--out", str(locked / "run"))
    assert line == f"agora: error: ConfigError: --out: {locked / 'run'}: {locked} is not writable"


@pytest.mark.parametrize("command", ["report", "compare"])
def test_report_out_is_checked_before_the_runs_are_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    runs = [str(tmp_path / "no-run")] * (2 if command == "compare" else 1)
    line = fails(capsys, command, *runs, "--out", str(tmp_path))
    assert line == f"agora: error: ConfigError: --out: {tmp_path}: is a directory, not a file"


# Text that is not UTF-8: the file and the line where decoding failed.

LATIN_1 = "café".encode("latin-1")
SAVE = "save it as UTF-8"


def test_a_scenario_that_is_not_utf8_names_the_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = scenario(tmp_path)
    path.write_bytes(b"# a\n# b\n# c\n# d\n# " + LATIN_1 + b"\n" + path.read_bytes())
    line = fails(capsys, "scenarios", str(path))
    assert line == f"agora: error: {path}: line 5: not UTF-8 text (byte 0xe9 at column 6); {SAVE}"


def test_a_graph_in_utf16_is_named_as_such(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "g.yaml"
    path.write_text((ROOT / "graphs" / "debate.yaml").read_text(), encoding="utf-16")
    line = fails(capsys, "graph", "validate", str(path))
    assert line == f"agora: error: {path}: line 1: not UTF-8 text (UTF-16); {SAVE}"


def test_a_persona_that_is_not_utf8_names_the_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "p.yaml"
    path.write_bytes(b"name: p\ndescription: x\nsystem_prompt: " + LATIN_1 + b"\n")
    line = fails(capsys, "judge", *QUESTION, "--model", "scripted", "--persona", str(path))
    assert line == f"agora: error: ConfigError: {path}: line 3: not UTF-8 text (byte 0xe9 at column 19); {SAVE}"


def test_binary_evidence_names_the_flag_and_the_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "e.bin"
    path.write_bytes(b"text\n\x00\x01\xff\xfe")
    line = fails(capsys, "debate", *QUESTION, "--model", "scripted", "--evidence", str(path))
    assert (
        line == f"agora: error: ConfigError: --evidence: {path}: line 2: not UTF-8 text (byte 0xff at column 3); {SAVE}"
    )


@pytest.mark.parametrize("suffix", ["jsonl", "csv", "json"])
def test_a_data_file_that_is_not_utf8_names_the_exact_line(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"d.{suffix}"
    good = [{"id": f"q{i}", "question": f"Q{i}?", "answers": ["yes", "no"], "gold": 0} for i in range(4998)]
    if suffix == "jsonl":
        lines = [json.dumps(row).encode() for row in good]
    elif suffix == "csv":
        lines = [b"id,question,answers,gold", *(f'q{i},Q{i}?,"[""a"", ""b""]",0'.encode() for i in range(4998))]
    else:
        lines = [b"[", *(json.dumps(row).encode() + b"," for row in good)]
    lines.insert(4999 - 1, b'{"id": "x", "question": "' + LATIN_1 + b'?", "answers": ["a", "b"]}')
    path.write_bytes(b"\n".join([*lines, b"]" if suffix == "json" else b""]))
    loader = {"jsonl": "jsonl", "csv": "csv", "json": "passage-qa"}[suffix]
    with pytest.raises(ConfigError, match=f"^{re.escape(str(path))}: line 4999: not UTF-8 text"):
        list(read(Source(loader=loader, path=path)))


def test_scenarios_reads_the_data_through(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = scenario(tmp_path, rows=numbered_rows(4999))
    data = tmp_path / "items.jsonl"
    data.write_bytes(data.read_bytes() + b'{"question": "' + LATIN_1 + b'"}\n')
    line = fails(capsys, "scenarios", str(path))
    assert line.startswith(f"agora: error: {data}: line 5000: not UTF-8 text")


# YAML that nests too deep, expands too far, or says a key twice.


@pytest.mark.parametrize("kind", ["scenario", "graph"])
def test_deeply_nested_yaml_is_one_line(tmp_path: Path, kind: str) -> None:
    path = tmp_path / f"{kind}.yaml"
    path.write_text("name: x\nnodes: " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(ConfigError, match=f"^{re.escape(str(path))}: line 2: nested deeper than 100 levels$"):
        (load_scenario if kind == "scenario" else load_graph)(path)


def alias_bomb(levels: int = 9) -> str:
    """Nine anchors, each a list of nine aliases of the one before: 9**9 values from under a kilobyte of YAML."""
    lines = ["        - &l0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"        - &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "jury:\n  rule: weighted\n  params:\n    weights:\n      judge:\n" + "\n".join(lines) + "\n"


def test_an_alias_bomb_is_refused_by_scenarios_and_run_within_a_memory_cap(tmp_path: Path) -> None:
    path = scenario(tmp_path, text=alias_bomb())
    assert path.stat().st_size < 1200

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    for command in (["scenarios", str(path)], ["run", str(path), "--out", str(tmp_path / "run")]):
        result = subprocess.run(
            [sys.executable, "-m", "agora", *command], capture_output=True, text=True, preexec_fn=cap, timeout=120
        )
        assert result.returncode == 2, result.stderr[-2000:]
        line = next(n for n, text in enumerate(path.read_text().splitlines(), 1) if "&l5" in text)  # 9**6 values
        assert f"{path}: line {line}: aliases expand to more than 100000 values" in result.stderr, result.stderr


CHAIN = "\n".join(["a0: &a0 [x]", *(f"a{i}: &a{i} [*a{i - 1}]" for i in range(1, 101))])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: x\nloop: &a [1, *a]\n", "line 2: an alias refers to itself"),
        (CHAIN, "line 100: aliases nest deeper than 100 levels"),
        (
            "name: x\ndescription: y\nz: a\x00b\n",
            "line 3: not valid YAML: unacceptable character #x0000 (a binary file?)",
        ),
    ],
    ids=["recursive", "chain", "nul"],
)
def test_yaml_that_cannot_be_walked_is_refused(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=f"^{re.escape(f'{path}: {message}')}$"):
        read_mapping(path, "scenario")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: a\ndescription: b\nname: c\n", "line 3: duplicate key 'name' (first at line 1)"),
        ("jury:\n  rule: majority\n  quorum: 2\n  rule: unanimity\n", "line 4: duplicate key 'rule' (first at line 2)"),
        ("settings: {timeout: 5, timeout: 6}\n", "line 1: duplicate key 'timeout' (first at line 1)"),
    ],
)
def test_a_duplicate_key_is_refused(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=f"^{re.escape(f'{path}: {message}')}$"):
        read_mapping(path, "scenario")


def test_a_graph_node_declared_twice_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = (ROOT / "graphs" / "debate.yaml").read_text()
    path = tmp_path / "g.yaml"
    path.write_text(text.replace("nodes:\n", "nodes:\n  judge: {role: judge, model: scripted}\n", 1))
    assert "duplicate key 'judge'" in fails(capsys, "graph", "validate", str(path))


def test_merge_keys_may_still_be_overridden(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("base: &base {a: 1, b: 2}\nmine:\n  <<: *base\n  b: 3\n")
    assert read_mapping(path, "scenario")["mine"] == {"a": 1, "b": 3}


# Values out of bounds.

ONE_SHOT = [
    ["judge", *QUESTION],
    ["debate", *QUESTION],
    ["consult", *QUESTION],
    ["jury", *QUESTION],
    ["probe"],
]


@pytest.mark.parametrize("command", ONE_SHOT, ids=[c[0] for c in ONE_SHOT])
def test_an_empty_model_spec_names_the_flag(capsys: pytest.CaptureFixture[str], command: list[str]) -> None:
    assert fails(capsys, *command, "--model", "") == "agora: error: ConfigError: --model: empty model spec"


@pytest.mark.parametrize(
    ("command", "flag"),
    [
        ("debate", "--debater-model"),
        ("debate", "--judge-model"),
        ("consult", "--consultant-model"),
        ("jury", "--juror-model"),
    ],
)
def test_an_empty_role_model_names_the_flag(capsys: pytest.CaptureFixture[str], command: str, flag: str) -> None:
    assert fails(capsys, command, *QUESTION, flag, " ") == f"agora: error: ConfigError: {flag}: empty model spec"


def test_run_refuses_an_empty_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = fails(capsys, "run", str(scenario(tmp_path)), "--model", "", "--out", str(tmp_path / "run"))
    assert line == "agora: error: ConfigError: --model: empty model spec"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["judge", "--max-tokens", "-5"], "--max-tokens: must be 1 or more, got -5"),
        (["judge", "--max-tokens", "0"], "--max-tokens: must be 1 or more, got 0"),
        (["judge", "--temperature", "1e308"], "--temperature: must be between 0 and 2, got 1e+308"),
        (["judge", "--temperature", "-0.5"], "--temperature: must be between 0 and 2, got -0.5"),
        (["judge", "--temperature", "nan"], "--temperature: must be between 0 and 2, got nan"),
        (["judge", "--timeout", "-1"], "--timeout: must be a positive number of seconds, got -1"),
        (["debate", "--timeout", "0"], "--timeout: must be a positive number of seconds, got 0"),
        (["consult", "--timeout", "inf"], "--timeout: must be a positive number of seconds, got inf"),
        (["jury", "--timeout", "-1"], "--timeout: must be a positive number of seconds, got -1"),
        (["probe", "--timeout", "0"], "--timeout: must be a positive number of seconds, got 0"),
    ],
)
def test_a_setting_out_of_bounds_names_the_flag(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    extra = QUESTION if args[0] != "probe" else []
    assert fails(capsys, *args, *extra, "--model", "scripted") == f"agora: error: ConfigError: {message}"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"max_tokens": -5}, "max_tokens: must be 1 or more, got -5"),
        ({"temperature": 1e308}, "temperature: must be between 0 and 2, got 1e+308"),
        ({"timeout": -1}, "timeout: must be a positive number of seconds, got -1"),
        ({"timeout": math.inf}, "timeout: must be a positive number of seconds, got inf"),
    ],
)
def test_settings_refuse_out_of_bounds_values_in_python_too(fields: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}$"):
        Settings(**fields)


def test_a_scenario_timeout_must_be_finite(tmp_path: Path) -> None:
    path = scenario(tmp_path, settings={"timeout": math.inf})
    message = "settings.timeout: Input should be a finite number"
    with pytest.raises(ConfigError, match=f"^{re.escape(str(path))}: {message}"):
        load_scenario(path)


# What `agora run` would refuse, `agora scenarios` refuses first.


def test_scenarios_checks_the_field_mapping(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = scenario(tmp_path, data={"loader": "jsonl", "path": "items.jsonl", "fields": {"questoin": "q"}})
    line = fails(capsys, "scenarios", str(path))
    expected = "data.0.fields: unknown field 'questoin' for the 'jsonl' loader (did you mean 'question'?)"
    assert line == f"agora: error: {path}: {expected}"


@pytest.mark.parametrize(
    ("rows", "problem"),
    [
        ([], "{data}: no rows: the data set is empty"),
        (["", "  "], "{data}: no rows: the data set is empty"),
        (
            ['{"question": "Q?"}', "not json"],
            "{data}:1: no usable item: all 2 rows are malformed, the first: 'answers' is missing or empty",
        ),
    ],
    ids=["empty", "blank", "all-malformed"],
)
def test_a_data_set_without_a_usable_item_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], rows: list[str], problem: str
) -> None:
    path = scenario(tmp_path, rows=rows)
    message = problem.format(data=tmp_path / "items.jsonl")
    assert fails(capsys, "scenarios", str(path)) == f"agora: error: {message}"
    line = fails(capsys, "run", str(path), "--out", str(tmp_path / "run"))
    assert line == f"agora: error: ConfigError: {message}"
    assert not (tmp_path / "run").exists()


def test_probe_refuses_a_data_set_without_a_usable_pair(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "pairs.json"
    data.write_text("[]")
    line = fails(capsys, "probe", "--model", "scripted", "--data", str(data))
    assert line == f"agora: error: ConfigError: --data: {data}: no rows: the data set is empty"


def test_a_good_scenario_still_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = scenario(tmp_path, output="out/run", cache="cache/calls.sqlite")
    with pytest.raises(SystemExit) as exit_:
        main(["scenarios", str(path)])
    assert exit_.value.code == 0, capsys.readouterr().err
    assert not (tmp_path / "out").exists() and not (tmp_path / "cache").exists()  # checked, not made
