"""Config files (scenarios, personas, graphs, data sources): YAML read and validated, every error one line.

``read_mapping`` reads a YAML file that must hold a mapping; ``validate`` turns it into a pydantic model. Both
raise ``ConfigError`` naming the file, then the field: ``x.yaml: jury.rule: unknown rule 'majorty' (did you mean
'majority'?)``, ``x.yaml: line 3: not valid YAML: ...``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from agora.errors import ConfigError

M = TypeVar("M", bound=BaseModel)
Location = Callable[[Sequence[int | str]], str]


class Spec(BaseModel):
    """Base of what config files hold: frozen, and an unknown field is an error."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def read_mapping(path: Path | str, what: str) -> dict[str, Any]:
    """The mapping in the YAML file at ``path``; ``what`` names the file's kind in errors (``"scenario"``).

    Raises:
        ConfigError: the file cannot be read, is not YAML, or holds something other than a mapping.
    """
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the {what}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(one_line(f"{path}: {where}not valid YAML: {problem}")) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a {what} must be a mapping, got {type(data).__name__}")
    return data


def validate(
    model: type[M], data: Any, path: Path | str, *, context: dict[str, Any] | None = None, where: Location | None = None
) -> M:
    """``model`` validated from ``data`` read from ``path``.

    Raises:
        ConfigError: ``PATH: FIELD: message`` for the first error (``where`` words the field; dotted by default).
    """
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        raise config_error(path, exc, where) from None
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def config_error(path: Path | str, exc: ValidationError, where: Location | None = None) -> ConfigError:
    """The one-line ``ConfigError`` for the first error of ``exc`` in the file (or object) ``path``."""
    error = exc.errors()[0]
    field = (where or dotted)(error["loc"])
    return ConfigError(one_line(f"{path}: {field + ': ' if field else ''}{message(error)}"))


def checked(check: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``check(*args, **kwargs)``, its ``ConfigError`` turned into the ``ValueError`` pydantic reports by field."""
    try:
        return check(*args, **kwargs)
    except ConfigError as exc:
        raise ValueError(str(exc)) from None


def checked_each(check: Callable[[str], Any], names: list[str]) -> list[str]:
    """``names``, once ``check`` has accepted each (see ``checked``)."""
    for name in names:
        checked(check, name)
    return names


def dotted(loc: Sequence[int | str]) -> str:
    """A pydantic error location as ``jury.checks.0``."""
    return ".".join(str(part) for part in loc)


def message(error: Any) -> str:
    """What a pydantic error says, in the file's terms: a validator's own message, ``unknown field`` for extras."""
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, ValueError | ConfigError):
        return str(cause)
    if error["type"] == "extra_forbidden":
        return "unknown field"
    return str(error["msg"]).removeprefix("Value error, ")


def one_line(text: str) -> str:
    """``text`` with its line breaks turned into spaces."""
    return " ".join(text.splitlines())
