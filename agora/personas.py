"""Judge personas: who the judge is, loaded from ``personas/*.yaml`` and validated."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from agora.config_file import Spec, read_mapping, validate
from agora.errors import ConfigError
from agora.paths import persona_dirs
from agora.registry import hint


class Persona(Spec):
    """A judge persona: a name, what it stands for, and the system prompt that makes it."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    description: str
    system_prompt: str = Field(min_length=1)
    priors: dict[str, str] = Field(default_factory=dict)


def load_persona_file(path: Path) -> Persona:
    """Load and validate one persona file."""
    return validate(Persona, read_mapping(path, "persona"), path)


def available_personas() -> dict[str, Path]:
    """Every persona name found, mapped to its file (earlier directories win)."""
    found: dict[str, Path] = {}
    for directory in persona_dirs():
        for path in sorted(directory.glob("*.yaml")) if directory.is_dir() else []:
            found.setdefault(path.stem, path)
    return found


def load_persona(name_or_path: str) -> Persona:
    """A persona by name (``skeptical``) or by file path (``my/persona.yaml``)."""
    path = Path(name_or_path)
    if path.suffix in {".yaml", ".yml"}:
        if not path.is_file():
            raise ConfigError(f"{path}: persona file not found")
        return load_persona_file(path)
    known = available_personas()
    if name_or_path not in known:
        raise ConfigError(f"unknown persona {name_or_path!r}{hint(name_or_path, sorted(known))}")
    persona = load_persona_file(known[name_or_path])
    if persona.name != name_or_path:
        raise ConfigError(f"{known[name_or_path]}: name: {persona.name!r} does not match the file name")
    return persona
