"""What a run records about itself so that it can be reproduced: versions, git sha, model and data file hashes."""

from __future__ import annotations

import hashlib
import importlib.metadata
import platform
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from agora.paths import REPO_DIR

if TYPE_CHECKING:
    from agora.scenarios import Scenario

PACKAGES = ("agora", "langgraph", "langchain-core", "pydantic", "openai", "anthropic", "llama-cpp-python", "ray")


def versions() -> dict[str, str | None]:
    """Python and the installed version of each package that shapes a run (``None`` when absent)."""
    found: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    return found


def git_sha() -> str | None:
    """The commit of the agora checkout running, with ``-dirty`` when it has changes; ``None`` outside git."""
    if not (REPO_DIR / ".git").exists():
        return None
    try:
        sha = subprocess.run(
            ["git", "-C", str(REPO_DIR), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO_DIR), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return sha + ("-dirty" if dirty else "")


def model_hash(spec: str) -> str | None:
    """The sha256 of the weights behind a ``local`` spec (pinned for catalogue models); ``None`` for remote ones."""
    kind, _, rest = spec.partition(":")
    if kind != "local":
        return None
    from agora.weights import local_model

    path = local_model(rest)
    if not isinstance(path, Path):
        return path.sha256
    return _file_hash(path)


def data_digest(scenario: Scenario) -> str | None:
    """The sha256 over the files ``scenario`` reads besides itself, each by path and contents: its data sources and
    its judges' persona and rubric files; ``None`` when one cannot be read."""
    from agora.personas import available_personas

    personas = available_personas()
    paths = [source.path for source in scenario.data]
    for judge in scenario.judges:
        if judge.persona is not None:
            paths.append(personas.get(judge.persona, Path(judge.persona)))
        if judge.rubric is not None:
            paths.append(Path(judge.rubric))
    digest = hashlib.sha256()
    for path in paths:
        try:
            digest.update(f"{path.resolve()}\0{_file_hash(path)}\n".encode())
        except OSError:
            return None
    return digest.hexdigest()


def _file_hash(path: Path) -> str:
    """The sha256 of the file at ``path``."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def command() -> list[str]:
    """The command line of this process."""
    return list(sys.argv)
