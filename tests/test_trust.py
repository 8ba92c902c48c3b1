"""Secrets and trust boundaries: URL credentials never shown, scenarios that import code need --allow-import, a local
model file is checked to be GGUF before anything reads it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from agora.cli import main, runs
from agora.errors import ConfigError
from agora.redaction import redact
from agora.runner.manifest import model_hash
from agora.runner.options import Options
from agora.runner.run import Run
from agora.runner.store import RunStore
from agora.scenarios import load_scenario
from tests.fixtures.scenarios import numbered_rows, write_scenario


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("openai:m@http://user:hunter22@host:8080/v1", "openai:m@http://***@host:8080/v1"),
        ("https://token@proxy.example/v1", "https://***@proxy.example/v1"),
        ("http://h/v1?api_key=abc123&model=x", "http://h/v1?api_key=***&model=x"),
        ("http://h/v1?model=x&access_token=zz#top", "http://h/v1?model=x&access_token=***#top"),
        ("openai:qwen@http://127.0.0.1:8080/v1", "openai:qwen@http://127.0.0.1:8080/v1"),
        ("write to ana@example.org", "write to ana@example.org"),
    ],
)
def test_url_credentials_are_masked(text: str, shown: str) -> None:
    assert redact(text) == shown


def test_agora_models_does_not_show_credentials_of_the_base_url(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://agent:s3cr3tpass@127.0.0.1:9/v1?key=k3yk3y")
    monkeypatch.setenv("COLUMNS", "300")
    with pytest.raises(SystemExit) as exit_:
        main(["models"])
    out = capsys.readouterr().out
    assert exit_.value.code == 0 and "127.0.0.1:9" in out
    assert "s3cr3tpass" not in out and "k3yk3y" not in out and "agent" not in out


def importing_scenario(tmp_path: Path) -> Path:
    body = {
        "name": "imports",
        "data": {"loader": "jsonl", "path": "items.jsonl", "limit": 1},
        "models": {"default": "langchain:tests.fixtures.chat_models:echo_verdict"},
        "protocols": [{"kind": "direct_qa"}],
        "cache": False,
    }
    return write_scenario(tmp_path, body, numbered_rows(2))


def test_a_scenario_that_imports_code_runs_only_with_allow_import(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = importing_scenario(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        main(["run", str(path), "--out", str(tmp_path / "refused")])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_.value.code == 2 and len(err) == 1
    assert err[0].startswith(f"agora: error: ConfigError: {path}: models: the scenario imports Python code")
    assert "tests.fixtures.chat_models:echo_verdict" in err[0] and "--allow-import" in err[0]
    assert not (tmp_path / "refused").exists()

    wide = Console(width=200, soft_wrap=True)
    monkeypatch.setattr(runs, "console", lambda: wide)
    with pytest.raises(SystemExit) as exit_:
        main(["scenarios", str(path)])
    assert exit_.value.code == 0 and "tests.fixtures.chat_models:echo_verdict" in capsys.readouterr().out

    with pytest.raises(SystemExit) as exit_:
        main(["run", str(path), "--out", str(tmp_path / "run"), "--allow-import"])
    assert exit_.value.code == 0
    (record,) = RunStore(tmp_path / "run").records()
    assert record.status == "ok" and record.verdicts[0].choice == 1


def test_a_scenario_without_imports_needs_no_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    body = {"name": "plain", "data": {"loader": "jsonl", "path": "items.jsonl"}, "protocols": [{"kind": "direct_qa"}]}
    path = write_scenario(tmp_path, body, numbered_rows(1))
    with pytest.raises(SystemExit) as exit_:
        main(["scenarios", str(path)])
    assert exit_.value.code == 0 and "imports" not in capsys.readouterr().out


def test_a_local_model_file_that_is_not_gguf_is_refused_before_it_is_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "passwd"
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n")
    body = {
        "name": "sneaky",
        "data": {"loader": "jsonl", "path": "items.jsonl"},
        "models": {"judge": f"local:{secret}"},
        "protocols": [{"kind": "direct_qa"}],
    }
    path = write_scenario(tmp_path, body, numbered_rows(1))
    with pytest.raises(SystemExit) as exit_:
        main(["run", str(path), "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_.value.code == 2 and len(err) == 1
    assert err[0].startswith(f"agora: error: ConfigError: {path}: models.judge: local model file {secret}: not a GGUF")
    assert not (tmp_path / "run").exists()

    opened: list[str] = []
    real_open = Path.open

    def spying_open(self: Path, *args: object, **kwargs: object) -> object:
        opened.append(str(self))
        return real_open(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "open", spying_open)
    with pytest.raises(ConfigError, match="not a GGUF file"):
        model_hash(f"local:{secret}")
    assert opened == [str(secret)]  # the magic bytes were read, nothing was hashed


def test_a_gguf_file_passes_the_check_and_is_hashed(tmp_path: Path) -> None:
    weights = tmp_path / "tiny.gguf"
    weights.write_bytes(b"GGUF" + bytes(64))
    assert model_hash(f"local:{weights}") is not None


def credentialed_scenario(tmp_path: Path, url: str) -> Path:
    secret_url = url.replace("http://", "http://agent:s3cretpw@")
    body = {
        "name": "secret",
        "data": {"loader": "jsonl", "path": "items.jsonl"},
        "models": {"default": f"openai:fake@{secret_url}"},
        "protocols": [{"kind": "direct_qa"}],
        "cache": False,
    }
    return write_scenario(tmp_path, body, numbered_rows(3))


def files_text(directory: Path) -> str:
    return "".join(p.read_bytes().decode("latin-1") for p in sorted(directory.rglob("*")) if p.is_file())


def test_url_credentials_are_never_stored_and_a_run_resumes_from_its_scenario_file(
    tmp_path: Path, fake_server: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    path = credentialed_scenario(tmp_path, fake_server.url)
    run_dir = tmp_path / "run"
    Run.create(load_scenario(path), Options(limit=1), run_dir, path).close()  # started, then its process died
    with pytest.raises(SystemExit) as exit_:
        main(["resume", str(run_dir)])
    assert exit_.value.code == 0
    assert [r.status for r in RunStore(run_dir).records()] == ["ok"]
    manifest = RunStore(run_dir).manifest()
    assert manifest["scenario"]["models"]["default"].startswith("openai:fake@http://***@127.0.0.1")
    for fmt in ("md", "html"):
        with pytest.raises(SystemExit):
            main(["report", str(run_dir), "--format", fmt])
    shown = capsys.readouterr()
    assert "s3cretpw" not in shown.out + shown.err and "***@127.0.0.1" in shown.out
    assert "s3cretpw" not in files_text(run_dir)

    Run.create(load_scenario(path), Options(limit=1), tmp_path / "again", path).close()
    path.write_text(path.read_text().replace("name: secret", "name: changed"))
    with pytest.raises(SystemExit) as exit_:
        main(["resume", str(tmp_path / "again")])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_.value.code == 2 and len(err) == 1
    assert "the run's credentials are not stored and this file is gone or changed" in err[0]


def test_a_run_whose_model_flag_held_credentials_says_it_cannot_be_resumed(
    tmp_path: Path, fake_server: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    path = credentialed_scenario(tmp_path, fake_server.url)
    flag = f"openai:fake@{fake_server.url.replace('http://', 'http://agent:s3cretpw@')}"
    Run.create(load_scenario(path), Options(model=flag), tmp_path / "run", path).close()
    assert "s3cretpw" not in files_text(tmp_path / "run")
    with pytest.raises(SystemExit) as exit_:
        main(["resume", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_.value.code == 2 and len(err) == 1 and "--model held credentials, which are not stored" in err[0]
