"""Data-set loaders in a registry: ``@loader("name")`` makes a user's loader as usable as a built-in one.

A ``Source`` names a loader, a file and how to read it; ``read(source)`` streams ``Item``s (JSONL and CSV row by
row, JSON parsed whole) and applies what the source asks: unique ids, seeded shuffling of the answers, a limit, a
seeded sample. A row that cannot be used is a ``Malformed`` saying where it is and why, never dropped silently.

Built-in loaders: ``jsonl`` and ``csv`` (generic, with a field mapping), ``covid-claims``, ``truthfulqa``,
``pairwise`` (alias ``llmbar``), ``evalbiasbench`` and ``passage-qa``. Sources are ``file:line`` (1-based, the
physical line where the row starts) for JSONL and CSV, ``file:index`` (0-based) for JSON lists.
"""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

from pydantic import Field, ValidationError, ValidationInfo, field_validator

from agora.config_file import Spec, checked, not_utf8, read_text
from agora.errors import ConfigError
from agora.items import Item, Malformed
from agora.paths import resolve
from agora.registry import Registry, hint

Row = Item | Malformed
LoaderFn = Callable[[Path, "Source"], Iterator[Row]]

GENERIC_FIELDS: Mapping[str, Any] = {
    "id": "id",
    "question": "question",
    "answers": "answers",
    "gold": "gold",
    "evidence": "evidence",
    "reference": "reference",
}
PASSAGE_FIELDS: Mapping[str, Any] = {**GENERIC_FIELDS, "gold": "correct", "evidence": "story"}
PAIRWISE_FIELDS: Mapping[str, Any] = {
    "id": "id",
    "question": "input",
    "answers": ["output_1", "output_2"],
    "gold": "label",
    "reference": "reference",
}
EVALBIASBENCH_FIELDS: Mapping[str, Any] = {
    "id": "id",
    "question": "instruction",
    "answers": ["response1", "response2"],
    "gold": "label",
    "reference": "reference",
}
TRUTHFULQA_COLUMNS = ("Question", "Best Answer", "Best Incorrect Answer")
COVID_QUESTION = "Is the following claim true or false?\n\n{claim}"
COVID_ANSWERS = ("The claim is true.", "The claim is false.")


class Source(Spec):
    """A data file and how to read it: one schema for ``Source(...)`` in Python and a scenario's ``data:`` entries.

    In a scenario file, ``path`` resolves against the file's directory, ``{data}`` stands for the data
    directory, and a missing file is an error at once; a ``Source`` built in Python is checked when read. The field
    mapping is checked against the loader's as the source is built.

    Attributes:
        loader: the name of a registered loader (``jsonl``, ``covid-claims`` ...).
        path: the data file.
        fields: for the loaders that take one, the column of each item field (``{"question": "prompt"}``);
            ``answers`` is one column holding a list or a list of columns, ``meta`` a list of columns to keep.
        limit: stop after this many items (applied after ``sample``).
        sample: a seeded uniform random sample of this many items, yielded in file order.
        seed: seeds the sample and the shuffling of answers; ``None``: the scenario's seed (0 outside one).
        on_malformed: ``"skip"`` yields each unusable row as a ``Malformed``; ``"fail"`` raises at the first one.
        shuffle: randomise each item's answer order (seeded per item); ``None`` keeps the loader's default.
        name: prefix of the item ids (``name/id``), for a scenario that reads several sources.
        max_evidence_chars: cut each item's evidence to about this many characters, at a paragraph break where
            one falls in the second half (small local models have small contexts).
    """

    loader: str
    path: Path
    fields: dict[str, Any] = Field(default_factory=dict)
    limit: int | None = Field(default=None, ge=0)
    sample: int | None = Field(default=None, ge=0)
    seed: int | None = None
    on_malformed: Literal["skip", "fail"] = "skip"
    shuffle: bool | None = None
    name: str | None = None
    max_evidence_chars: int | None = Field(default=None, ge=100)

    @field_validator("loader")
    @classmethod
    def _known_loader(cls, name: str) -> str:
        checked(LOADERS.get, name)
        return name

    @field_validator("fields")
    @classmethod
    def _usable_fields(cls, fields: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        if fields and "loader" in info.data:
            checked(_check_fields, LOADERS.get(info.data["loader"]), fields)
        return fields

    @field_validator("path", mode="before")
    @classmethod
    def _path(cls, value: Any, info: ValidationInfo) -> Any:
        if not info.context:
            return value
        path = resolve(value, info.context.get("base"))
        if not path.is_file():
            raise ValueError(f"no such file: {path}")
        return path


@dataclass(frozen=True)
class Loader:
    """A registered loader: the function that reads a file, its default for shuffling, the fields it maps.

    Attributes:
        name: the name it is registered under.
        fn: ``(path, source) -> rows``; the rows are ``Item``s and ``Malformed``s in file order.
        shuffle: whether ``read`` shuffles the answers when the source does not say.
        fields: its default field mapping; ``None`` when it takes none.
    """

    name: str
    fn: LoaderFn
    shuffle: bool = False
    fields: Mapping[str, Any] | None = None

    def __call__(self, path: Path, source: Source) -> Iterator[Row]:
        return self.fn(path, source)


LOADERS = Registry[Loader]("loader")
"""Data-set loaders by name (aliases are names of their own)."""


def loader(
    name: str, *, shuffle: bool = False, fields: Mapping[str, Any] | None = None
) -> Callable[[LoaderFn], LoaderFn]:
    """Register a loader under ``name``; stack the decorator to register aliases.

    Args:
        name: what a ``Source`` (a scenario's ``loader:``) calls it.
        shuffle: whether answers are shuffled when the source does not say.
        fields: the default field mapping, when the loader takes one (``Source.fields`` is checked against it).
    """

    def register(fn: LoaderFn) -> LoaderFn:
        LOADERS.add(name, Loader(name, fn, shuffle, fields))
        return fn

    return register


def read(source: Source) -> Iterator[Item | Malformed]:
    """Stream the items of ``source`` in file order, with each unusable row as a ``Malformed`` among them.

    The file is read as the items are consumed (a JSON file is parsed whole on the first one). Ids are made
    unique (a repeated id is a ``Malformed``), answers shuffled when asked, then ``sample`` and ``limit`` applied.

    Raises:
        ConfigError: a missing file, at once; later, while iterating, a file that is not UTF-8 or cannot be parsed,
            or the first unusable row when ``on_malformed`` is ``"fail"``.
    """
    load = LOADERS.get(source.loader)
    if not source.path.is_file():
        reason = "not a file" if source.path.exists() else "no such file"
        raise ConfigError(f"{source.path}: cannot read the data set: {reason}")
    shuffle = load.shuffle if source.shuffle is None else source.shuffle
    rows = _checked(source, load(source.path, source), shuffle)
    if source.sample is not None:
        rows = _sampled(rows, source.sample, source.seed or 0)
    if source.limit is not None:
        rows = _limited(rows, source.limit)
    return rows


def count(source: Source) -> int:
    """The usable items in the whole file of ``source`` (``sample`` and ``limit`` aside), every row read.

    Raises:
        ConfigError: what ``read`` raises, and for a file without a usable item (see ``no_items``).
    """
    found, malformed, first = 0, 0, None
    for row in read(source.model_copy(update={"sample": None, "limit": None})):
        if isinstance(row, Item):
            found += 1
        else:
            malformed += 1
            first = first or row
    if not found:
        raise no_items(source.path, malformed, first)
    return found


def no_items(path: Path, malformed: int, first: Malformed | None) -> ConfigError:
    """The error for the data file at ``path`` without a usable item: empty, or ``malformed`` rows from ``first``."""
    if first is None:
        return ConfigError(f"{path}: no rows: the data set is empty")
    rows = "the one row is malformed" if malformed == 1 else f"all {malformed} rows are malformed, the first"
    return ConfigError(f"{_where(path, first.source)}: no usable item: {rows}: {first.reason}")


def total(source: Source) -> int | None:
    """The most items ``read(source)`` yields, when known without reading the file (``limit``, ``sample``).

    Fewer come when the file holds fewer usable rows; ``None`` when only reading the file would tell.
    """
    bounds = [n for n in (source.limit, source.sample) if n is not None]
    return min(bounds) if bounds else None


# What read applies to every loader's rows.


def _checked(source: Source, rows: Iterable[Row], shuffle: bool) -> Iterator[Row]:
    """``rows`` with ids prefixed and checked for repeats, answers shuffled; raising at a bad row under "fail"."""
    first: dict[str, str] = {}
    for row in rows:
        if isinstance(row, Item):
            row = _finished(row, source, shuffle)
            if row.id in first:
                row = Malformed(row.source, f"duplicate id {row.id!r} (first at {first[row.id]})")
            else:
                first[row.id] = row.source
        if isinstance(row, Malformed) and source.on_malformed == "fail":
            raise ConfigError(f"{_where(source.path, row.source)}: {row.reason}")
        yield row


def _finished(item: Item, source: Source, shuffle: bool) -> Item:
    """``item`` with its answers in the order seeded by the source seed and its own id, and its id prefixed."""
    update: dict[str, Any] = {}
    if shuffle:
        order = list(range(len(item.answers)))
        random.Random(f"{source.seed or 0}:{item.id}").shuffle(order)
        update["answers"] = tuple(item.answers[i] for i in order)
        if item.gold is not None:
            update["gold"] = order.index(item.gold)
    if source.name:
        update["id"] = f"{source.name}/{item.id}"
    if source.max_evidence_chars is not None and item.evidence and len(item.evidence) > source.max_evidence_chars:
        update["evidence"] = trim(item.evidence, source.max_evidence_chars)
    return item.model_copy(update=update) if update else item


def trim(text: str, limit: int) -> str:
    """``text`` cut to at most about ``limit`` characters, at the last paragraph break in its second half if any,
    marked ``[…]``."""
    if len(text) <= limit:
        return text
    cut = text.rfind("\n\n", 0, limit)
    return text[: cut if cut >= limit // 2 else limit].rstrip() + "\n[…]"


def _sampled(rows: Iterable[Row], size: int, seed: int) -> Iterator[Row]:
    """A uniform sample of ``size`` items (reservoir sampling, seeded) and every malformed row, in file order."""
    rng = random.Random(seed)
    kept: list[tuple[int, Row]] = []
    malformed: list[tuple[int, Row]] = []
    seen = 0
    for position, row in enumerate(rows):
        if isinstance(row, Malformed):
            malformed.append((position, row))
            continue
        if seen < size:
            kept.append((position, row))
        else:
            slot = rng.randrange(seen + 1)
            if slot < size:
                kept[slot] = (position, row)
        seen += 1
    yield from (row for _, row in sorted(kept + malformed, key=lambda pair: pair[0]))


def _limited(rows: Iterator[Row], limit: int) -> Iterator[Row]:
    """``rows`` up to the ``limit``-th item; the rest of the file is not read."""
    try:
        if limit == 0:
            return
        count = 0
        for row in rows:
            yield row
            if isinstance(row, Item):
                count += 1
                if count == limit:
                    return
    finally:
        close = getattr(rows, "close", None)
        if close is not None:
            close()


def _where(path: Path, source: str) -> str:
    """``file:line`` with the file's full path."""
    return f"{path}{source[len(path.name) :]}" if source.startswith(f"{path.name}:") else f"{path}: {source}"


# Field mappings.


@dataclass(frozen=True)
class _Columns:
    """The columns a row's item fields come from, and those a row must have."""

    id: str
    question: str
    answers: str | tuple[str, ...]
    gold: str
    evidence: str
    reference: str
    meta: tuple[str, ...]
    required: tuple[str, ...]


def _check_fields(load: Loader, fields: Mapping[str, Any]) -> None:
    """Raise a ``ConfigError`` for a field mapping ``load`` cannot use (``answers: must be ...``)."""
    if load.fields is None:
        raise ConfigError(f"the {load.name!r} loader takes no field mapping")
    known = [*load.fields, "meta"]
    for key, value in fields.items():
        if key not in known:
            raise ConfigError(f"unknown field {key!r} for the {load.name!r} loader{hint(key, known)}")
        default = load.fields.get(key)
        if key == "meta":
            if not _names(value):
                raise ConfigError(f"meta: must be a list of column names, got {value!r}")
        elif key == "answers" and isinstance(default, list):
            if not _names(value) or len(value) != len(default):
                raise ConfigError(f"answers: must be {len(default)} column names, got {value!r}")
        elif key == "answers":
            if not (isinstance(value, str) and value) and not (_names(value) and len(value) >= 2):
                raise ConfigError(f"answers: must be a column name or 2 or more of them, got {value!r}")
        elif not isinstance(value, str) or not value:
            raise ConfigError(f"{key}: must be a column name, got {value!r}")


def _names(value: Any) -> bool:
    return isinstance(value, list | tuple) and all(isinstance(v, str) and v for v in value)


def _columns(
    source: Source, defaults: Mapping[str, Any], required: Sequence[str] = ("question", "answers")
) -> _Columns:
    """The columns of ``source.fields`` over ``defaults``; the fields in ``required`` or given explicitly must be
    present in every row."""
    merged = {**defaults, **source.fields}
    answers = merged["answers"] if isinstance(merged["answers"], str) else tuple(merged["answers"])
    wanted = set(required) | (set(source.fields) - {"meta"})
    needed: list[str] = []
    for name in ("id", "question", "answers", "gold", "evidence", "reference"):
        if name in wanted and name in merged:
            needed.extend([merged[name]] if isinstance(merged[name], str) else merged[name])
    return _Columns(
        id=merged.get("id", "id"),
        question=merged["question"],
        answers=answers,
        gold=merged.get("gold", "gold"),
        evidence=merged.get("evidence", "evidence"),
        reference=merged.get("reference", "reference"),
        meta=tuple(merged.get("meta", ())),
        required=tuple(needed),
    )


# Reading files.


def _open(path: Path) -> IO[str]:
    try:
        return path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the data set: {exc.strerror}") from None


def _not_utf8(path: Path) -> ConfigError:
    """The error for a data file that is not UTF-8, naming the line (the file read again, as bytes)."""
    with path.open("rb") as file:
        return not_utf8(path, file)


def _read_json(path: Path) -> Any:
    text = read_text(path, "data set")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from None


def _jsonl(path: Path) -> Iterator[tuple[str, str, Any]]:
    """``(file:line, line, row)`` for each non-blank line of a JSONL file, read one line at a time."""
    with _open(path) as file:
        try:
            for line, text in enumerate(file, 1):
                if not text.strip():
                    continue
                where = f"{path.name}:{line}"
                try:
                    row = json.loads(text)
                except json.JSONDecodeError as exc:
                    row = Malformed(where, f"not valid JSON: {exc.msg} (column {exc.colno})")
                yield where, str(line), row
        except UnicodeDecodeError:
            raise _not_utf8(path) from None


def _json_list(path: Path) -> Iterator[tuple[str, str, Any]]:
    """``(file:index, index, row)`` for each row of a JSON list."""
    data = _read_json(path)
    if not isinstance(data, list):
        raise ConfigError(f"{path}: expected a JSON list of rows, got {type(data).__name__}")
    for index, row in enumerate(data):
        yield f"{path.name}:{index}", str(index), row


def _csv(path: Path, needed: Iterable[str]) -> Iterator[tuple[str, str, Any]]:
    """``(file:line, line, row)`` for each row of a CSV file (``line`` where the row starts), read one at a time.

    Raises:
        ConfigError: no header, a header without a ``needed`` column, or text that is not CSV.
    """
    with _open(path) as file:
        reader = csv.reader(file)
        try:
            header = next(reader, None)
            if header is None:
                raise ConfigError(f"{path}: empty file, expected a header row")
            missing = [c for c in dict.fromkeys(needed) if c not in header]
            if missing:
                raise ConfigError(f"{path}:1: missing columns {', '.join(missing)}")
            end = reader.line_num
            for cells in reader:
                start, end = end + 1, reader.line_num
                if not cells:
                    continue
                where = f"{path.name}:{start}"
                if len(cells) != len(header):
                    reason = f"the row has {len(cells)} cells, the header {len(header)}"
                    yield where, str(start), Malformed(where, reason)
                else:
                    yield where, str(start), dict(zip(header, cells, strict=True))
        except csv.Error as exc:
            raise ConfigError(f"{path}:{reader.line_num}: not valid CSV: {exc}") from None
        except UnicodeDecodeError:
            raise _not_utf8(path) from None


# Turning rows into items.

Build = Callable[[Any, str, str], Item]


def _convert(rows: Iterable[tuple[str, str, Any]], build: Build) -> Iterator[Row]:
    """``build(row, where, key)`` for each row, or the ``Malformed`` that says why it could not be built."""
    for where, key, row in rows:
        yield row if isinstance(row, Malformed) else _attempt(where, build, row, where, key)


def _attempt(where: str, build: Callable[..., Item], *args: Any) -> Row:
    try:
        return build(*args)
    except ValidationError as exc:
        reasons = (f"{'.'.join(map(str, e['loc'])) or 'item'}: {e['msg']}" for e in exc.errors())
        return Malformed(where, "; ".join(reasons))
    except ValueError as exc:
        return Malformed(where, str(exc))


def _item(**fields: Any) -> Item:
    answers = [a.strip() for a in fields["answers"]]
    if len(set(answers)) < len(answers):
        raise ValueError("the two answers are the same" if len(answers) == 2 else "two of the answers are the same")
    return Item(**fields)


def _object(row: Any) -> dict[str, Any]:
    if not isinstance(row, dict):
        raise ValueError(f"a row must be an object, got {type(row).__name__}")
    return row


def _text(row: dict[str, Any], key: str) -> str:
    """The non-empty string in cell ``key``; a ``ValueError`` otherwise."""
    value = row.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValueError(f"{key!r} is missing or empty")
    if not isinstance(value, str):
        raise ValueError(f"{key!r} must be text, got {type(value).__name__}")
    return value


def _optional_text(row: dict[str, Any], key: str) -> str | None:
    return None if row.get(key) in (None, "") else _text(row, key)


def _id(row: dict[str, Any], key: str, fallback: str) -> str:
    value = row.get(key)
    if value is None or value == "":
        return fallback
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return _text(row, key)


def _answers(row: dict[str, Any], spec: str | tuple[str, ...], cells_are_text: bool) -> tuple[str, ...]:
    """The answers from the columns ``spec`` names, or from the one column ``spec`` holding a list of them."""
    if not isinstance(spec, str):
        return tuple(_text(row, column) for column in spec)
    value = row.get(spec)
    if value is None or value == "":
        raise ValueError(f"{spec!r} is missing or empty")
    if cells_are_text and isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise ValueError(f"{spec!r} must be a JSON list of answers, got {value!r}") from None
    if not isinstance(value, list) or not all(isinstance(a, str) for a in value):
        raise ValueError(f"{spec!r} must be a list of answers (strings), got {value!r}")
    if len(value) < 2:
        raise ValueError(f"{spec!r} must hold 2 or more answers, got {len(value)}")
    empty = [i for i, a in enumerate(value) if not a.strip()]
    if empty:
        raise ValueError(f"answer {empty[0]} of {spec!r} is empty")
    return tuple(value)


def _gold(row: dict[str, Any], key: str, answers: Sequence[str], cells_are_text: bool) -> int | None:
    """The index of the gold answer: the cell is an index (0-based) or the text of an answer; ``None`` when empty.

    In a CSV cell, a whole number is an index.
    """
    value = row.get(key)
    if value is None or value == "":
        return None
    if cells_are_text and isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        if 0 <= value < len(answers):
            return value
        raise ValueError(f"{key!r} must index one of the {len(answers)} answers, got {value}")
    texts = [a.strip() for a in answers]
    if isinstance(value, str) and value.strip() in texts:
        return texts.index(value.strip())
    raise ValueError(f"{key!r} must be an answer index or one of the answers, got {value!r}")


def _record(row: Any, where: str, fallback: str, columns: _Columns, cells_are_text: bool) -> Item:
    """The item of a generic row, its cells named by ``columns``."""
    row = _object(row)
    for column in columns.required:
        if row.get(column) in (None, ""):
            raise ValueError(f"{column!r} is missing or empty")
    answers = _answers(row, columns.answers, cells_are_text)
    return _item(
        id=_id(row, columns.id, fallback),
        question=_text(row, columns.question),
        answers=answers,
        gold=_gold(row, columns.gold, answers, cells_are_text),
        evidence=_optional_text(row, columns.evidence),
        reference=_optional_text(row, columns.reference),
        source=where,
        meta={column: row.get(column) for column in columns.meta},
    )


def _pair(row: Any, where: str, fallback: str, columns: _Columns, meta: Mapping[str, Any] | None = None) -> Item:
    """The item of a pairwise row: two answers in file order and a label (1 or 2) naming the gold one."""
    row = _object(row)
    label = row.get(columns.gold)
    if isinstance(label, bool) or label not in (1, 2):
        raise ValueError(f"{columns.gold!r} must be 1 or 2, got {label!r}")
    first, second = (_text(row, column) for column in columns.answers)
    return _item(
        id=_id(row, columns.id, fallback),
        question=_text(row, columns.question),
        answers=(first, second),
        gold=int(label) - 1,
        reference=_optional_text(row, columns.reference),
        source=where,
        meta={**{column: row.get(column) for column in columns.meta}, **(meta or {})},
    )


# The loaders.


@loader("jsonl", fields=GENERIC_FIELDS)
def jsonl(path: Path, source: Source) -> Iterator[Row]:
    """Generic JSONL, one object a line, its cells named by ``source.fields`` (see ``GENERIC_FIELDS``)."""
    columns = _columns(source, GENERIC_FIELDS)
    return _convert(_jsonl(path), lambda row, where, key: _record(row, where, f"{path.stem}-{key}", columns, False))


@loader("csv", fields=GENERIC_FIELDS)
def csv_rows(path: Path, source: Source) -> Iterator[Row]:
    """Generic CSV with a header row; a one-column ``answers`` cell holds a JSON list, a ``gold`` cell a whole
    number (an index) or the text of an answer."""
    columns = _columns(source, GENERIC_FIELDS)
    rows = _csv(path, [*columns.required, *columns.meta])
    return _convert(rows, lambda row, where, key: _record(row, where, f"{path.stem}-{key}", columns, True))


@loader("passage-qa", fields=PASSAGE_FIELDS)
def passage_qa(path: Path, source: Source) -> Iterator[Row]:
    """Questions on a passage (QuALITY shape): ``{story, question, answers, correct}`` rows in JSONL, or in a JSON
    list when the file ends in ``.json``; the story is the evidence, ``correct`` the 0-based gold index."""
    columns = _columns(source, PASSAGE_FIELDS, ("question", "answers", "evidence"))
    rows = _json_list(path) if path.suffix == ".json" else _jsonl(path)
    return _convert(rows, lambda row, where, key: _record(row, where, f"{path.stem}-{key}", columns, False))


@loader("covid-claims")
def covid_claims(path: Path, source: Source) -> Iterator[Row]:
    """COVID-19 claims (JSONL ``{id, claim, veracity, label, sources}``): is the claim true or false; the sources
    are the evidence."""
    return _convert(_jsonl(path), lambda row, where, key: _claim(row, where, f"{path.stem}-{key}"))


def _claim(row: Any, where: str, fallback: str) -> Item:
    row = _object(row)
    veracity = row.get("veracity")
    if not isinstance(veracity, bool):
        raise ValueError(f"'veracity' must be true or false, got {veracity!r}")
    return _item(
        id=_id(row, "id", fallback),
        question=COVID_QUESTION.format(claim=_text(row, "claim")),
        answers=COVID_ANSWERS,
        gold=0 if veracity else 1,
        evidence=_sources(row.get("sources")),
        source=where,
        meta={"label": row["label"]} if "label" in row else {},
    )


def _sources(sources: Any) -> str | None:
    """The sources as ``[title] (url)`` + content blocks separated by blank lines; ``None`` when there are none."""
    if sources is None:
        return None
    if not isinstance(sources, list):
        raise ValueError(f"'sources' must be a list, got {type(sources).__name__}")
    blocks = []
    for index, entry in enumerate(sources):
        if not isinstance(entry, dict):
            raise ValueError(f"source {index} must be an object, got {type(entry).__name__}")
        try:
            content = _text(entry, "content")
            title, url = _optional_text(entry, "title"), _optional_text(entry, "url")
        except ValueError as exc:
            raise ValueError(f"source {index}: {exc}") from None
        head = " ".join(part for part in (title and f"[{title}]", url and f"({url})") if part)
        blocks.append(f"{head}\n{content}" if head else content)
    return "\n\n".join(blocks) or None


@loader("truthfulqa", shuffle=True)
def truthfulqa(path: Path, source: Source) -> Iterator[Row]:
    """TruthfulQA CSV: the question, its best answer (gold) and its best incorrect answer, in an order shuffled
    per item by default; ids ``truthfulqa-{row index}`` (0-based)."""
    rows = ((where, str(index), row) for index, (where, _, row) in enumerate(_csv(path, TRUTHFULQA_COLUMNS)))
    return _convert(rows, _truthful)


def _truthful(row: dict[str, Any], where: str, index: str) -> Item:
    question, best, worst = (_text(row, column) for column in TRUTHFULQA_COLUMNS)
    meta = {key: row[column] for key, column in (("category", "Category"), ("type", "Type")) if column in row}
    return _item(id=f"truthfulqa-{index}", question=question, answers=(best, worst), gold=0, source=where, meta=meta)


@loader("pairwise", fields=PAIRWISE_FIELDS)
@loader("llmbar", fields=PAIRWISE_FIELDS)
def pairwise(path: Path, source: Source) -> Iterator[Row]:
    """Pairwise judging (LLMBar shape): a JSON list of ``{input, output_1, output_2, label}``, the label (1 or 2)
    naming the gold output; answers stay in file order unless the source asks to shuffle."""
    columns = _columns(source, PAIRWISE_FIELDS)
    return _convert(_json_list(path), lambda row, where, key: _pair(row, where, f"{path.stem}-{key}", columns))


@loader("evalbiasbench", fields=EVALBIASBENCH_FIELDS)
def evalbiasbench(path: Path, source: Source) -> Iterator[Row]:
    """EvalBiasBench: a JSON object ``{bias: [{instruction, response1, response2, label}]}``; sources are
    ``file:bias:index`` and each item's meta holds its bias."""
    columns = _columns(source, EVALBIASBENCH_FIELDS)
    data = _read_json(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object of bias -> rows, got {type(data).__name__}")
    for bias, group in data.items():
        if not isinstance(group, list):
            yield Malformed(f"{path.name}:{bias}", f"the rows of bias {bias!r} are not a list")
            continue
        for index, row in enumerate(group):
            where, fallback = f"{path.name}:{bias}:{index}", f"{path.stem}-{bias.replace(' ', '_')}-{index}"
            yield _attempt(where, _pair, row, where, fallback, columns, {"bias": bias})
