"""Judge personas: who the judge is, loaded from ``personas/*.yaml`` and validated."""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agora.errors import ConfigError

BUNDLED_DIR = Path(__file__).resolve().parent.parent / "personas"


class Persona(BaseModel):
    """A judge persona: a name, what it stands for, and the system prompt that makes it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    description: str
    system_prompt: str = Field(min_length=1)
    priors: dict[str, str] = Field(default_factory=dict)


def persona_dirs() -> list[Path]:
    """Persona search path: ``$AGORA_PERSONAS`` (``:``-separated), ``./personas``, the bundled set."""
    extra = [Path(p) for p in os.environ.get("AGORA_PERSONAS", "").split(os.pathsep) if p]
    return [*extra, Path.cwd() / "personas", BUNDLED_DIR]


def load_persona_file(path: Path) -> Persona:
    """Load and validate one persona file."""
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read persona: {exc}".replace("\n", " ")) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a persona must be a mapping")
    try:
        return Persona.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise ConfigError(f"{path}: {where}: {err['msg']}") from None


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
        close = difflib.get_close_matches(name_or_path, list(known), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(sorted(known))})"
        raise ConfigError(f"unknown persona {name_or_path!r}{hint}")
    persona = load_persona_file(known[name_or_path])
    if persona.name != name_or_path:
        raise ConfigError(f"{known[name_or_path]}: name: {persona.name!r} does not match the file name")
    return persona
