"""Where agora finds things: its checkout, its data sets, personas, bundled scenarios and its cache.

Each directory is worked out here and nowhere else; environment variables override the defaults.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parent.parent
"""The checkout the package sits in, when it is one (its ``.git`` names the commit a run records)."""

BUNDLED_DIR = Path(__file__).resolve().parent / "bundled"
"""What ships inside the package besides its data: ``personas``, ``scenarios``, ``graphs`` and ``rubrics``. In a
checkout these are links to the directories of those names at its top; a wheel holds copies."""

PERSONAS_DIR = (BUNDLED_DIR / "personas").resolve()
SCENARIOS_DIR = (BUNDLED_DIR / "scenarios").resolve()
GRAPHS_DIR = (BUNDLED_DIR / "graphs").resolve()
RUBRICS_DIR = (BUNDLED_DIR / "rubrics").resolve()


PACKAGED_DATA_DIR = Path(__file__).resolve().parent / "data"
"""The data sets that ship inside the package, each with its licence (see its README.md)."""


def data_dir() -> Path:
    """The data directory: ``$AGORA_DATA``, else the data that ships with the package."""
    return Path(os.environ.get("AGORA_DATA") or PACKAGED_DATA_DIR)


def persona_dirs() -> list[Path]:
    """Where personas are looked up, in order: ``$AGORA_PERSONAS`` (``:``-separated), ``./personas``, the bundled."""
    extra = [Path(p) for p in os.environ.get("AGORA_PERSONAS", "").split(os.pathsep) if p]
    return [*extra, Path.cwd() / "personas", PERSONAS_DIR]


def scenario_path(value: str | Path) -> Path:
    """A scenario argument: a file that exists, else the name of a bundled scenario (``covid-debate``), else the path
    as given (whose reading then fails naming it)."""
    path = Path(value)
    bundled = SCENARIOS_DIR / f"{path.name}.yaml"
    if path.exists() or path.suffix or path.name != str(value) or not bundled.is_file():
        return path
    return bundled


def cache_dir() -> Path:
    """agora's cache directory: ``$AGORA_CACHE_DIR``, else ``$XDG_CACHE_HOME/agora`` or ``~/.cache/agora``."""
    root = os.environ.get("AGORA_CACHE_DIR") or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "agora"
    return Path(root)


def resolve(value: str | Path, base: Path | None = None) -> Path:
    """A path from a config file: ``{data}`` stands for ``data_dir()``, ``~`` is expanded, and a relative path is
    taken against ``base`` (the file's directory) when given."""
    path = Path(str(value).replace("{data}", str(data_dir()))).expanduser()
    return path if path.is_absolute() or base is None else base / path
