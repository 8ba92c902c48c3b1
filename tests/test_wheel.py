"""A wheel of agora installed in a fresh virtual environment works from any directory: the bundled scenarios,
personas, graphs and data sets are inside it.

The wheel is built from this checkout (no build isolation: nothing is downloaded) and installed by pip into a new
environment. Its dependencies come from the test's own environment, through a path file (which, unlike a site
directory, runs none of that environment's path files: the checkout's editable agora stays out of sight).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.fixtures.fake_server import FakeServer

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``bin`` directory of a fresh environment holding the wheel of this checkout."""
    work = tmp_path_factory.mktemp("wheel")
    pip = [sys.executable, "-m", "pip"]
    subprocess.run(
        [*pip, "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-w", str(work / "dist"), "-q"],
        check=True,
        capture_output=True,
    )
    (wheel,) = (work / "dist").glob("agora-*.whl")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(work / "env")], check=True)
    python = work / "env" / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(site, "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([*pip, "--python", str(python), "install", "--no-deps", "-q", str(wheel)], check=True)
    return python.parent


def agora(bin_dir: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "AGORA_DATA", "AGORA_PERSONAS")}
    env["AGORA_CACHE_DIR"] = str(cwd / "cache")  # a response cache of its own: every call really goes out
    return subprocess.run([str(bin_dir / "agora"), *args], cwd=cwd, env=env, capture_output=True, text=True)


@pytest.mark.slow
def test_the_wheel_holds_what_agora_ships(installed: Path, tmp_path: Path) -> None:
    where = subprocess.run(
        [str(installed / "python"), "-c", "import agora, agora.paths as p; print(agora.__file__); print(p.GRAPHS_DIR)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert all(str(installed.parent) in line and str(ROOT) not in line for line in where)  # the installed copy

    personas = agora(installed, "personas", cwd=tmp_path)
    assert personas.returncode == 0, personas.stderr
    assert all(name in personas.stdout for name in ("mainstream", "skeptical", "expert", "layperson"))

    scenarios = agora(installed, "scenarios", cwd=tmp_path)
    assert scenarios.returncode == 0, scenarios.stderr
    assert all(name in scenarios.stdout for name in ("covid-debate", "truthfulqa-jury", "llmbar-probes"))

    graphs = sorted(Path(where[1]).glob("*.yaml"))
    assert [g.name for g in graphs] == sorted(g.name for g in (ROOT / "graphs").glob("*.yaml"))  # every one ships
    validated = agora(installed, "graph", "validate", *map(str, graphs), cwd=tmp_path)
    assert validated.returncode == 0 and validated.stdout.count("ok ") == len(graphs), validated.stderr


@pytest.mark.slow
def test_a_bundled_scenario_runs_by_name_from_another_directory(
    installed: Path, tmp_path: Path, fake_server: FakeServer
) -> None:
    out = tmp_path / "run"
    args = ["run", "covid-debate", "--model", f"openai:fake@{fake_server.url}", "--limit", "1", "--out", str(out)]
    result = agora(installed, *args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert sorted(r["protocol"] for r in records) == ["blind_qa", "consultancy", "debate"]
    assert all(r["status"] == "ok" for r in records)
    assert len(fake_server.requests) >= 6  # the debate, the consultant and the judges were really asked
