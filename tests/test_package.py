"""The curated public API and the persona files that ship with the package."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import agora
from agora.errors import ConfigError
from agora.paths import PACKAGED_DATA_DIR, PERSONAS_DIR, SCENARIOS_DIR, data_dir
from agora.personas import available_personas, load_persona
from agora.scenarios import load_scenario

PUBLIC = {
    "AgoraError", "Backend", "BackendError", "BackendTimeout", "BackendUnavailable", "Completion",
    "ConfigError", "ExecutionError", "Judge", "Message", "Persona", "RateLimited", "RetryPolicy",
    "Settings", "Usage", "VerdictParseError", "Verdict", "ask_structured", "backend", "load_persona",
    "resolve_model", "Item", "Scenario", "load_scenario", "HumanJudge", "Juror", "Jury",
}  # fmt: skip


def test_public_api_is_pinned() -> None:
    assert set(agora.__all__) == PUBLIC
    assert all(hasattr(agora, name) for name in PUBLIC)


def test_importing_agora_imports_no_provider_sdk() -> None:
    code = "import sys, agora; print(sorted(m for m in ('openai', 'anthropic', 'llama_cpp') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_error_hierarchy_sets_exit_codes() -> None:
    assert issubclass(agora.RateLimited, agora.BackendError)
    assert issubclass(agora.BackendError, agora.ExecutionError)
    assert issubclass(agora.VerdictParseError, agora.ExecutionError)
    assert (agora.ConfigError.exit_code, agora.ExecutionError.exit_code) == (2, 1)


def test_bundled_personas_load_and_include_the_study_pair() -> None:
    names = {p.stem for p in PERSONAS_DIR.glob("*.yaml")}
    assert {"mainstream", "skeptical", "expert", "layperson", "contrarian"} <= names
    for name in names:
        persona = load_persona(name)
        assert persona.name == name and len(persona.system_prompt) > 50


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("name: Bad Name\ndescription: d\nsystem_prompt: p\n", "name: String should match pattern"),
        ("name: x\ndescription: d\n", "system_prompt: Field required"),
        (
            "name: x\ndescription: d\nsystem_prompt: p\ncolour: red\n",
            "colour: unknown field",
        ),
        ("- just\n- a list\n", "a persona must be a mapping"),
        ("name: [unclosed\n", "not valid YAML"),
    ],
)
def test_bad_persona_files_name_the_file_and_field(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(content)
    with pytest.raises(ConfigError) as info:
        load_persona(str(path))
    assert str(info.value).startswith(f"{path}: ") and message in str(info.value)
    assert "\n" not in str(info.value)


def test_persona_search_path_prefers_user_directories(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "skeptical.yaml").write_text("name: skeptical\ndescription: mine\nsystem_prompt: my own prompt\n")
    monkeypatch.setenv("AGORA_PERSONAS", str(tmp_path))
    assert available_personas()["skeptical"] == tmp_path / "skeptical.yaml"
    assert load_persona("skeptical").system_prompt == "my own prompt"


def test_the_data_ships_with_the_package_each_set_with_its_licence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AGORA_DATA", raising=False)
    assert data_dir() == PACKAGED_DATA_DIR and PACKAGED_DATA_DIR.parent == Path(agora.__file__).parent
    shipped = {p.name for p in PACKAGED_DATA_DIR.iterdir()}
    for data, licence in [
        ("covid_claims.jsonl", "covid_claims.LICENSE"),
        ("truthfulqa.csv", "truthfulqa.LICENSE"),
        ("llmbar_natural.json", "llmbar.LICENSE"),
        ("evalbiasbench.json", "evalbiasbench.LICENSE"),
    ]:
        assert {data, licence} <= shipped
        assert data in (PACKAGED_DATA_DIR / "README.md").read_text()
    assert "master_keys.txt" in shipped
    main_job = SCENARIOS_DIR / "covid-debate.yaml"
    assert load_scenario(main_job).data[0].path == PACKAGED_DATA_DIR / "covid_claims.jsonl"


def test_agora_data_overrides_the_shipped_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGORA_DATA", str(tmp_path))
    assert data_dir() == tmp_path


def test_the_wheel_carries_the_data(tmp_path: Path) -> None:
    import zipfile

    root = Path(agora.__file__).parent.parent
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            str(tmp_path),
            str(root),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("agora-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {f"agora/data/{name}" for name in ("covid_claims.jsonl", "covid_claims.LICENSE", "README.md")} <= names


def test_a_scenario_argument_is_a_path_or_a_bundled_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from agora.paths import scenario_path

    monkeypatch.chdir(tmp_path)
    assert scenario_path("covid-debate") == SCENARIOS_DIR / "covid-debate.yaml"
    assert Path(__file__).resolve().parents[1] / "scenarios" == SCENARIOS_DIR  # in a checkout: its scenarios/
    (tmp_path / "covid-debate").write_text("name: mine\n")
    assert scenario_path("covid-debate") == Path("covid-debate")  # a file of that name wins
    assert scenario_path("no-such-scenario") == Path("no-such-scenario")  # reading it then fails, naming it
    assert scenario_path("sub/truthfulqa-jury") == Path("sub/truthfulqa-jury")  # a path is never a name
