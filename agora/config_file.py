"""Config files (scenarios, personas, graphs, data sources): YAML read and validated, every error one line.

``read_mapping`` reads a YAML file that must hold a mapping; ``validate`` turns it into a pydantic model. Both
raise ``ConfigError`` naming the file, then the field: ``x.yaml: jury.rule: unknown rule 'majorty' (did you mean
'majority'?)``, ``x.yaml: line 3: not valid YAML: ...``.

What a file may hold is bounded before anything walks it: text that is not UTF-8, a key said twice in one mapping,
nesting deeper than ``MAX_DEPTH`` and aliases that expand to more than ``MAX_VALUES`` values (an alias bomb: a
kilobyte of nested anchors that expands to billions) are refused, each naming its line. ``check_writable`` checks
a path a run will write (a flag's or a field's) before anything starts.
"""

from __future__ import annotations

import codecs
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from agora.errors import ConfigError

M = TypeVar("M", bound=BaseModel)
Location = Callable[[Sequence[int | str]], str]

MAX_DEPTH = 100
"""The deepest a config file may nest (aliases expanded)."""
MAX_VALUES = 100_000
"""The most values (scalars, lists and mappings) a config file may hold once its aliases are expanded."""
MERGE = "tag:yaml.org,2002:merge"


class Spec(BaseModel):
    """Base of what config files hold: frozen, and an unknown field is an error."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def read_mapping(path: Path | str, what: str) -> dict[str, Any]:
    """The mapping in the YAML file at ``path``; ``what`` names the file's kind in errors (``"scenario"``).

    Raises:
        ConfigError: the file cannot be read, is not UTF-8 or not YAML, breaks a bound (see the module docstring),
            or holds something other than a mapping.
    """
    text = read_text(path, what)
    try:
        data = yaml.load(text, Loader=_BoundedLoader)  # _BoundedLoader is a SafeLoader
    except yaml.YAMLError as exc:
        raise ConfigError(one_line(f"{path}: {_yaml_problem(exc, text)}")) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a {what} must be a mapping, got {type(data).__name__}")
    return data


def read_text(path: Path | str, what: str) -> str:
    """The text of the UTF-8 file at ``path``; ``what`` names the file's kind in errors.

    Raises:
        ConfigError: the file cannot be read, or is not UTF-8 (naming the line).
    """
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the {what}: {exc.strerror or exc}") from None
    return decoded(path, raw)


def decoded(path: Path | str, raw: bytes) -> str:
    """``raw``, the bytes of the file at ``path``, as UTF-8 text without a byte-order mark.

    Raises:
        ConfigError: ``raw`` is not UTF-8 (see ``not_utf8``).
    """
    try:
        return raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        raise not_utf8(path, raw.split(b"\n")) from None


def not_utf8(path: Path | str, lines: Iterable[bytes]) -> ConfigError:
    """The error for the file at ``path``, read as ``lines`` of bytes, naming the line and column of its first byte
    that is not UTF-8 (or saying it is UTF-16)."""
    for number, line in enumerate(lines, 1):
        if number == 1 and line.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return ConfigError(f"{path}: line 1: not UTF-8 text (UTF-16); save it as UTF-8")
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as exc:
            column = len(line[: exc.start].decode("utf-8")) + 1
            byte = line[exc.start]
            return ConfigError(
                f"{path}: line {number}: not UTF-8 text (byte 0x{byte:02x} at column {column}); save it as UTF-8"
            )
    return ConfigError(f"{path}: not UTF-8 text")


def check_writable(path: Path, kind: Literal["file", "directory"]) -> None:
    """Raise a ``ConfigError`` (``PATH: why``) unless a ``kind`` can be written at ``path``: made there (with the
    missing directories above it) or, for an existing one, written to. Nothing is made."""
    if os.path.isdir(path):
        if kind == "file":
            raise ConfigError(f"{path}: is a directory, not a file")
        where = path
    elif os.path.exists(path):
        if kind == "directory":
            raise ConfigError(f"{path}: exists and is not a directory")
        if not os.access(path, os.W_OK):
            raise ConfigError(f"{path}: is not writable")
        return
    else:
        where = next(parent for parent in path.parents if os.path.exists(parent))
        if not os.path.isdir(where):
            raise ConfigError(f"{path}: {where} is not a directory")
    if not os.access(where, os.W_OK | os.X_OK):
        raise ConfigError(f"{path}: {where} is not writable")


class _Refused(yaml.MarkedYAMLError):
    """YAML that parses but is refused: a duplicate key, too deep, expanding too far."""


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader, with the bounds of the module docstring checked on the nodes before any is built."""

    _depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _Refused(
                    problem=f"nested deeper than {MAX_DEPTH} levels", problem_mark=self.peek_event().start_mark
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def get_single_node(self) -> yaml.Node | None:
        node = super().get_single_node()
        if node is not None:
            _check_nodes(node)
        return node


def _check_nodes(root: yaml.Node) -> None:
    """Raise ``_Refused`` for a key said twice in a mapping, an alias that refers to itself, or values that expand
    past ``MAX_DEPTH`` or ``MAX_VALUES``; each node is visited once (an alias is a node shared), without recursion."""
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    open_: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key, children = id(node), _children(node)
        if finished:
            open_.discard(key)
            size[key] = 1 + sum(size[id(child)] for child in children)
            depth[key] = 1 + max((depth[id(child)] for child in children), default=0)
            if size[key] > MAX_VALUES:
                raise _Refused(problem=f"aliases expand to more than {MAX_VALUES} values", problem_mark=node.start_mark)
            if depth[key] > MAX_DEPTH:
                raise _Refused(problem=f"aliases nest deeper than {MAX_DEPTH} levels", problem_mark=node.start_mark)
        elif key in open_:
            raise _Refused(problem="an alias refers to itself", problem_mark=node.start_mark)
        elif key not in size:
            if isinstance(node, yaml.MappingNode):
                _check_keys(node)
            open_.add(key)
            stack.append((node, True))
            stack.extend((child, False) for child in children)


def _children(node: yaml.Node) -> list[yaml.Node]:
    """The nodes directly in ``node``: a sequence's items, a mapping's keys and values."""
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [child for pair in node.value for child in pair]
    return []


def _check_keys(node: yaml.MappingNode) -> None:
    """Raise ``_Refused`` for the second of two equal keys in ``node`` (merge keys, ``<<``, aside)."""
    first: dict[tuple[str, str], yaml.Node] = {}
    for key, _ in node.value:
        if isinstance(key, yaml.ScalarNode) and key.tag != MERGE:
            seen = first.setdefault((key.tag, key.value), key)
            if seen is not key:
                where = f"first at line {seen.start_mark.line + 1}"
                raise _Refused(problem=f"duplicate key {key.value!r} ({where})", problem_mark=key.start_mark)


def _yaml_problem(exc: yaml.YAMLError, text: str) -> str:
    """What ``exc`` says about ``text``, after its line: ``line 3: not valid YAML: ...``."""
    if isinstance(exc, yaml.reader.ReaderError):
        line = text.count("\n", 0, exc.position) + 1
        return f"line {line}: not valid YAML: unacceptable character #x{exc.character:04x} (a binary file?)"
    mark = getattr(exc, "problem_mark", None)
    where = f"line {mark.line + 1}: " if mark is not None else ""
    problem = getattr(exc, "problem", None) or str(exc)
    return where + (problem if isinstance(exc, _Refused) else f"not valid YAML: {problem}")


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
