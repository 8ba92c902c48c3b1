"""Data-set loaders: each shape parses to the items it should, every unusable row is reported with its line and
reason, and ``read`` streams, limits, samples and shuffles as its source asks.
"""

from __future__ import annotations

import csv
import inspect
import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from agora.config_file import config_error
from agora.errors import ConfigError
from agora.items import Item, Malformed
from agora.loaders import LOADERS, Source, loader, read, total
from agora.paths import data_dir
from tests.fixtures.registries import scope


def shared(name: str) -> Path:
    """A file of the data directory (``$AGORA_DATA``, else the data that ships with the package)."""
    return data_dir() / name


def jsonl(path: Path, *rows: Any) -> Path:
    """Write ``rows`` to ``path``, one a line; a ``str`` row is written as it is."""
    path.write_text("".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows))
    return path


def items(source: Source) -> list[Item]:
    rows = list(read(source))
    assert all(isinstance(row, Item) for row in rows), [r for r in rows if isinstance(r, Malformed)]
    return [row for row in rows if isinstance(row, Item)]


def malformed(source: Source) -> list[Malformed]:
    return [row for row in read(source) if isinstance(row, Malformed)]


QA = {"question": "Q?", "answers": ["yes", "no"], "gold": 1}


# The registry.


def test_the_built_in_loaders_are_registered() -> None:
    assert LOADERS.names() == [
        "covid-claims", "csv", "evalbiasbench", "jsonl", "llmbar", "pairwise", "passage-qa", "truthfulqa",
    ]  # fmt: skip
    assert LOADERS.get("llmbar").fn is LOADERS.get("pairwise").fn
    assert LOADERS.get("truthfulqa").shuffle and not LOADERS.get("pairwise").shuffle


def test_an_unknown_loader_names_the_closest_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^unknown loader 'truthfullqa' \(did you mean 'truthfulqa'\?\)$"):
        LOADERS.get("truthfullqa")
    with pytest.raises(ValidationError, match=r"unknown loader 'xyz' \(known: covid-claims, csv, "):
        read(Source(loader="xyz", path=tmp_path / "a.jsonl"))


def test_a_user_loader_is_a_first_class_citizen(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scope(monkeypatch, LOADERS)

    @loader("lines", shuffle=True)
    def lines(path: Path, source: Source) -> Iterator[Item | Malformed]:
        for number, text in enumerate(path.read_text().splitlines(), 1):
            question, _, answer = text.partition("=")
            yield Item(id=question, question=question, answers=(answer, "no idea"), gold=0, source=f"x:{number}")

    path = tmp_path / "x.txt"
    path.write_text("1+1=2\n2+2=4\n")
    assert "lines" in LOADERS.names()
    got = items(Source(loader="lines", path=path, seed=3))
    assert [i.id for i in got] == ["1+1", "2+2"]
    assert all(i.answers[i.gold or 0] in ("2", "4") for i in got)  # shuffled by default, gold followed


# Sources.


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"limit": -1}, "limit: Input should be greater than or equal to 0"),
        ({"sample": 1.5}, "sample: Input should be a valid integer, got a number with a fractional part"),
        ({"sample": -1}, "sample: Input should be greater than or equal to 0"),
        ({"max_evidence_chars": 50}, "max_evidence_chars: Input should be greater than or equal to 100"),
        ({"on_malformed": "ignore"}, "on_malformed: Input should be 'skip' or 'fail'"),
        ({"loader": "jsnl"}, "loader: unknown loader 'jsnl' (did you mean 'jsonl'?)"),
    ],
)
def test_a_bad_source_names_the_field(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as info:
        Source(**{"loader": "jsonl", "path": Path("d.jsonl"), **options})
    assert str(config_error("d.jsonl", info.value)) == f"d.jsonl: {message}"


def test_a_missing_file_is_a_config_error_at_once(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=re.escape(f"{tmp_path / 'nope.jsonl'}: cannot read the data set: no such")):
        read(Source(loader="jsonl", path=tmp_path / "nope.jsonl"))
    with pytest.raises(ConfigError, match="cannot read the data set: not a file"):
        read(Source(loader="jsonl", path=tmp_path))


@pytest.mark.parametrize(
    ("name", "fields", "message"),
    [
        (
            "jsonl",
            {"questoin": "q"},
            "fields: unknown field 'questoin' for the 'jsonl' loader (did you mean 'question'?)",
        ),
        ("covid-claims", {"question": "q"}, "fields: the 'covid-claims' loader takes no field mapping"),
        ("pairwise", {"answers": ["a", "b", "c"]}, "fields: answers: must be 2 column names, got ['a', 'b', 'c']"),
        ("csv", {"answers": ["a"]}, "fields: answers: must be a column name or 2 or more of them, got ['a']"),
        ("jsonl", {"meta": "topic"}, "fields: meta: must be a list of column names, got 'topic'"),
        ("jsonl", {"gold": 3}, "fields: gold: must be a column name, got 3"),
    ],
)
def test_a_bad_field_mapping_is_refused_as_the_source_is_built(name: str, fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as info:
        Source(loader=name, path=Path("d.jsonl"), fields=fields)
    assert str(config_error("d.jsonl", info.value)) == f"d.jsonl: {message}"


# Generic JSONL and CSV.


def test_jsonl_rows_become_items(tmp_path: Path) -> None:
    path = jsonl(
        tmp_path / "qa.jsonl",
        {"id": "a", "question": "Q1?", "answers": ["yes", "no"], "gold": 0, "evidence": "E", "topic": "t"},
        "",
        {"question": "Q2?", "answers": ["x", "y", "z"], "gold": "z"},
        {"id": 7, "question": "Q3?", "answers": ["x", "y"]},
    )
    got = items(Source(loader="jsonl", path=path))
    assert got == [
        Item(id="a", question="Q1?", answers=("yes", "no"), gold=0, evidence="E", source="qa.jsonl:1"),
        Item(id="qa-3", question="Q2?", answers=("x", "y", "z"), gold=2, source="qa.jsonl:3"),
        Item(id="7", question="Q3?", answers=("x", "y"), source="qa.jsonl:4"),
    ]


def test_jsonl_with_a_field_mapping(tmp_path: Path) -> None:
    row = {"key": "k1", "prompt": "Q?", "right": "yes", "wrong": "no", "answer": "no", "topic": "t", "x": 1}
    path = jsonl(tmp_path / "m.jsonl", row)
    fields = {"id": "key", "question": "prompt", "answers": ["right", "wrong"], "gold": "answer", "meta": ["topic"]}
    assert items(Source(loader="jsonl", path=path, fields=fields)) == [
        Item(id="k1", question="Q?", answers=("yes", "no"), gold=1, source="m.jsonl:1", meta={"topic": "t"})
    ]


def test_malformed_jsonl_rows_say_where_and_why(tmp_path: Path) -> None:
    path = jsonl(
        tmp_path / "bad.jsonl",
        QA,
        "{not json",
        ["a list"],
        {"answers": ["yes", "no"]},
        {"question": "Q?", "answers": ["only one"]},
        {"question": "Q?", "answers": "yes or no"},
        {"question": "Q?", "answers": ["yes", " "]},
        {"question": "Q?", "answers": ["yes", "yes "]},
        {**QA, "gold": 2},
        {**QA, "gold": "maybe"},
        {**QA, "gold": True},
        {**QA, "question": 42},
        {**QA, "evidence": ["a", "b"]},
    )
    assert malformed(Source(loader="jsonl", path=path)) == [
        Malformed("bad.jsonl:2", "not valid JSON: Expecting property name enclosed in double quotes (column 2)"),
        Malformed("bad.jsonl:3", "a row must be an object, got list"),
        Malformed("bad.jsonl:4", "'question' is missing or empty"),
        Malformed("bad.jsonl:5", "'answers' must hold 2 or more answers, got 1"),
        Malformed("bad.jsonl:6", "'answers' must be a list of answers (strings), got 'yes or no'"),
        Malformed("bad.jsonl:7", "answer 1 of 'answers' is empty"),
        Malformed("bad.jsonl:8", "the two answers are the same"),
        Malformed("bad.jsonl:9", "'gold' must index one of the 2 answers, got 2"),
        Malformed("bad.jsonl:10", "'gold' must be an answer index or one of the answers, got 'maybe'"),
        Malformed("bad.jsonl:11", "'gold' must be an answer index or one of the answers, got True"),
        Malformed("bad.jsonl:12", "'question' must be text, got int"),
        Malformed("bad.jsonl:13", "'evidence' must be text, got list"),
    ]


def test_an_explicitly_mapped_column_must_be_present(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "d.jsonl", {**QA, "label": 0}, QA)
    rows = list(read(Source(loader="jsonl", path=path, fields={"gold": "label"})))
    assert isinstance(rows[0], Item) and rows[0].gold == 0
    assert rows[1] == Malformed("d.jsonl:2", "'label' is missing or empty")


def test_csv_rows_become_items_with_the_line_where_they_start(tmp_path: Path) -> None:
    path = tmp_path / "qa.csv"
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["question", "answers", "gold", "note"])
        writer.writerow(["Q1?", json.dumps(["yes", "no"]), "1", "n1"])
        writer.writerow(["Two\nlines?", json.dumps(["a", "b"]), "b", "n2"])
        writer.writerow([])
        writer.writerow(["Q3?", json.dumps(["a", "b"]), "", "n3"])
    got = items(Source(loader="csv", path=path, fields={"meta": ["note"]}))
    assert [(i.id, i.source, i.question, i.gold, i.meta) for i in got] == [
        ("qa-2", "qa.csv:2", "Q1?", 1, {"note": "n1"}),
        ("qa-3", "qa.csv:3", "Two\nlines?", 1, {"note": "n2"}),
        ("qa-6", "qa.csv:6", "Q3?", None, {"note": "n3"}),
    ]


def test_csv_answers_in_columns_and_malformed_rows(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("id,question,a,b,gold\n1,Q?,yes,no,0\n2,Q?,yes\n3,Q?,yes,no,yes\n4,Q?,yes,no,5\n5,Q?,,no,0\n")
    rows = list(read(Source(loader="csv", path=path, fields={"answers": ["a", "b"]})))
    assert rows == [
        Item(id="1", question="Q?", answers=("yes", "no"), gold=0, source="p.csv:2"),
        Malformed("p.csv:3", "the row has 3 cells, the header 5"),
        Item(id="3", question="Q?", answers=("yes", "no"), gold=0, source="p.csv:4"),
        Malformed("p.csv:5", "'gold' must index one of the 2 answers, got 5"),
        Malformed("p.csv:6", "'a' is missing or empty"),
    ]
    bad = tmp_path / "bad.csv"
    bad.write_text('question,answers\nQ?,"[not json"\n')
    assert malformed(Source(loader="csv", path=bad)) == [
        Malformed("bad.csv:2", "'answers' must be a JSON list of answers, got '[not json'")
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", ": empty file, expected a header row"),
        ("prompt,answers\nQ?,[]\n", ":1: missing columns question"),
        ("question,a\nQ?,x\n", ":1: missing columns answers"),
    ],
)
def test_an_unusable_csv_header_is_a_config_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "h.csv"
    path.write_text(content)
    with pytest.raises(ConfigError, match=re.escape(f"{path}{message}")):
        list(read(Source(loader="csv", path=path)))


# Shapes of the shipped data, on small files.


def claim(id: str, veracity: Any = True, **extra: Any) -> dict[str, Any]:
    sources = [
        {"title": "T1", "url": "https://a", "content": "C1"},
        {"title": "T2", "url": "https://b", "content": "C2"},
    ]
    return {"id": id, "claim": "Masks work.", "veracity": veracity, "label": "support", "sources": sources, **extra}


def test_covid_claims(tmp_path: Path) -> None:
    path = jsonl(
        tmp_path / "c.jsonl",
        claim("c1"),
        claim("c2", veracity=False, label="refute"),
        claim("c3", veracity="true"),
        claim("c4", sources=[{"title": "T", "url": "u", "content": ""}]),
        claim("c5", claim=""),
        claim("c6", sources="none"),
    )
    rows = list(read(Source(loader="covid-claims", path=path)))
    assert rows[0] == Item(
        id="c1",
        question="Is the following claim true or false?\n\nMasks work.",
        answers=("The claim is true.", "The claim is false."),
        gold=0,
        evidence="[T1] (https://a)\nC1\n\n[T2] (https://b)\nC2",
        source="c.jsonl:1",
        meta={"label": "support"},
    )
    assert isinstance(rows[1], Item) and (rows[1].gold, rows[1].meta) == (1, {"label": "refute"})
    assert rows[2:] == [
        Malformed("c.jsonl:3", "'veracity' must be true or false, got 'true'"),
        Malformed("c.jsonl:4", "source 0: 'content' is missing or empty"),
        Malformed("c.jsonl:5", "'claim' is missing or empty"),
        Malformed("c.jsonl:6", "'sources' must be a list, got str"),
    ]


def test_truthfulqa(tmp_path: Path) -> None:
    path = tmp_path / "tqa.csv"
    path.write_text(
        "Type,Category,Question,Best Answer,Best Incorrect Answer\n"
        "Adversarial,Myths,Q1?,Right,Wrong\nAdversarial,Myths,Q2?,,Wrong\nNon-Adversarial,Law,Q3?,Same,Same\n"
    )
    rows = list(read(Source(loader="truthfulqa", path=path, shuffle=False)))
    assert rows == [
        Item(
            id="truthfulqa-0", question="Q1?", answers=("Right", "Wrong"), gold=0, source="tqa.csv:2",
            meta={"category": "Myths", "type": "Adversarial"},
        ),
        Malformed("tqa.csv:3", "'Best Answer' is missing or empty"),
        Malformed("tqa.csv:4", "the two answers are the same"),
    ]  # fmt: skip


def test_pairwise_keeps_the_file_order_and_shuffles_only_if_asked(tmp_path: Path) -> None:
    pairs = [{"input": f"Q{i}?", "output_1": f"a{i}", "output_2": f"b{i}", "label": 1 + i % 2} for i in range(40)]
    path = tmp_path / "pairs.json"
    path.write_text(json.dumps(pairs))
    plain = items(Source(loader="pairwise", path=path))
    assert [(i.id, i.source, i.answers, i.gold) for i in plain[:2]] == [
        ("pairs-0", "pairs.json:0", ("a0", "b0"), 0),
        ("pairs-1", "pairs.json:1", ("a1", "b1"), 1),
    ]
    assert items(Source(loader="llmbar", path=path)) == plain
    shuffled = items(Source(loader="pairwise", path=path, shuffle=True))
    assert any(s.answers != p.answers for s, p in zip(shuffled, plain, strict=True))
    for s, p in zip(shuffled, plain, strict=True):
        assert set(s.answers) == set(p.answers) and s.answers[s.gold or 0] == p.answers[p.gold or 0]


def test_evalbiasbench(tmp_path: Path) -> None:
    row = {"instruction": "I", "response1": "a", "response2": "b", "label": 2}
    path = tmp_path / "ebb.json"
    path.write_text(json.dumps({"length bias": [row, {**row, "label": 0}], "empty": "nothing", "nested": [row]}))
    assert list(read(Source(loader="evalbiasbench", path=path))) == [
        Item(
            id="ebb-length_bias-0", question="I", answers=("a", "b"), gold=1, source="ebb.json:length bias:0",
            meta={"bias": "length bias"},
        ),
        Malformed("ebb.json:length bias:1", "'label' must be 1 or 2, got 0"),
        Malformed("ebb.json:empty", "the rows of bias 'empty' are not a list"),
        Item(
            id="ebb-nested-0", question="I", answers=("a", "b"), gold=1, source="ebb.json:nested:0",
            meta={"bias": "nested"},
        ),
    ]  # fmt: skip
    path.write_text("[]")
    with pytest.raises(ConfigError, match=re.escape(f"{path}: expected a JSON object of bias -> rows, got list")):
        list(read(Source(loader="evalbiasbench", path=path)))


def test_passage_qa_in_jsonl_and_in_a_json_list(tmp_path: Path) -> None:
    row = {"story": "Once upon a time.", "question": "When?", "answers": ["once", "twice"], "correct": 0}
    lines = jsonl(tmp_path / "quality.jsonl", row, {**row, "story": ""}, {**row, "correct": 3})
    rows = list(read(Source(loader="passage-qa", path=lines)))
    assert rows == [
        Item(
            id="quality-1", question="When?", answers=("once", "twice"), gold=0, evidence="Once upon a time.",
            source="quality.jsonl:1",
        ),
        Malformed("quality.jsonl:2", "'story' is missing or empty"),
        Malformed("quality.jsonl:3", "'correct' must index one of the 2 answers, got 3"),
    ]  # fmt: skip
    renamed = {"article": "A.", "q": "Why?", "options": ["x", "y"], "gold_index": 1}
    listed = tmp_path / "quality.json"
    listed.write_text(json.dumps([renamed]))
    fields = {"question": "q", "answers": "options", "gold": "gold_index", "evidence": "article"}
    assert items(Source(loader="passage-qa", path=listed, fields=fields)) == [
        Item(id="quality-0", question="Why?", answers=("x", "y"), gold=1, evidence="A.", source="quality.json:0")
    ]


# What read applies to every loader.


def test_duplicate_ids_are_malformed(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "d.jsonl", {**QA, "id": "x"}, {**QA, "id": "y"}, {**QA, "id": "x"})
    rows = list(read(Source(loader="jsonl", path=path)))
    assert [type(r).__name__ for r in rows] == ["Item", "Item", "Malformed"]
    assert rows[2] == Malformed("d.jsonl:3", "duplicate id 'x' (first at d.jsonl:1)")
    with pytest.raises(ConfigError, match=re.escape(f"{path}:3: duplicate id 'x' (first at d.jsonl:1)")):
        list(read(Source(loader="jsonl", path=path, on_malformed="fail")))


def test_on_malformed_fail_names_the_file_and_line(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "d.jsonl", QA, {**QA, "gold": 5})
    with pytest.raises(ConfigError, match=re.escape(f"{path}:2: 'gold' must index one of the 2 answers, got 5")):
        list(read(Source(loader="jsonl", path=path, on_malformed="fail")))
    bias = tmp_path / "b.json"
    bias.write_text(json.dumps({"length bias": [{"instruction": "I", "response1": "a", "label": 1}]}))
    with pytest.raises(ConfigError, match=re.escape(f"{bias}:length bias:0: 'response2' is missing or empty")):
        list(read(Source(loader="evalbiasbench", path=bias, on_malformed="fail")))


def test_read_streams_a_jsonl_file(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "s.jsonl", {**QA, "id": "first"}, "{broken", "{broken too")
    rows = read(Source(loader="jsonl", path=path, on_malformed="fail"))
    assert inspect.isgenerator(rows)
    first = next(rows)
    assert isinstance(first, Item) and first.id == "first"  # the broken lines were not parsed yet
    with pytest.raises(ConfigError, match=re.escape(f"{path}:2: not valid JSON")):
        next(rows)


def test_a_limit_stops_reading(tmp_path: Path) -> None:
    rows = [{**QA, "id": str(i)} for i in range(3)]
    path = jsonl(tmp_path / "l.jsonl", rows[0], {**QA, "gold": 9}, rows[1], rows[2], "{broken")
    got = list(read(Source(loader="jsonl", path=path, limit=2)))
    assert [r.id if isinstance(r, Item) else r.source for r in got] == ["0", "l.jsonl:2", "1"]
    # the broken last line is never reached, so even "fail" goes through
    assert [r.id for r in items(Source(loader="jsonl", path=path, limit=1, on_malformed="fail"))] == ["0"]
    assert list(read(Source(loader="jsonl", path=path, limit=0))) == []
    assert total(Source(loader="jsonl", path=path, limit=2)) == 2 and total(Source(loader="jsonl", path=path)) is None


def test_a_sample_is_seeded_uniform_and_in_file_order(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "s.jsonl", *({**QA, "id": str(i)} for i in range(200)), {**QA, "gold": 7})

    def ids(**options: Any) -> list[int]:
        return [int(r.id) for r in read(Source(loader="jsonl", path=path, **options)) if isinstance(r, Item)]

    first = ids(sample=10, seed=1)
    assert len(first) == 10 and first == sorted(first)
    assert ids(sample=10, seed=1) == first and ids(sample=10, seed=2) != first
    assert ids(sample=500) == list(range(200)) and ids(sample=0) == []
    assert ids(sample=10, seed=1, limit=3) == first[:3]
    assert total(Source(loader="jsonl", path=path, sample=10, limit=3)) == 3
    # malformed rows are still yielded, in their place
    assert malformed(Source(loader="jsonl", path=path, sample=5)) == [
        Malformed("s.jsonl:201", "'gold' must index one of the 2 answers, got 7")
    ]
    # uniform: over many seeds every row is drawn about equally often
    drawn = Counter(i for seed in range(300) for i in ids(sample=20, seed=seed))
    assert len(drawn) == 200 and max(drawn.values()) < 3 * min(drawn.values())


def test_a_name_prefixes_the_ids(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "n.jsonl", {**QA, "id": "a"})
    assert [i.id for i in items(Source(loader="jsonl", path=path, name="set1"))] == ["set1/a"]


# The shipped data.


def test_covid_claims_of_the_shared_data() -> None:
    got = items(Source(loader="covid-claims", path=shared("covid_claims.jsonl")))
    assert len(got) == 45 and len({i.id for i in got}) == 45
    assert sum(i.gold == 0 for i in got) == 24 and sum(i.gold == 1 for i in got) == 21
    assert all(i.evidence and i.evidence.startswith("[") for i in got)
    assert {(i.meta["label"], i.gold) for i in got} == {("support", 0), ("refute", 1)}
    assert got[2].source == "covid_claims.jsonl:3"


def test_truthfulqa_of_the_shared_data_is_shuffled_by_the_seed() -> None:
    path = shared("truthfulqa.csv")
    seeded = items(Source(loader="truthfulqa", path=path))
    assert len(seeded) == 790 and {i.gold for i in seeded} == {0, 1}
    plain = items(Source(loader="truthfulqa", path=path, shuffle=False))
    assert {i.gold for i in plain} == {0}
    other = items(Source(loader="truthfulqa", path=path, seed=1))
    assert [i.answers for i in other] != [i.answers for i in seeded]
    for a, b, p in zip(seeded, other, plain, strict=True):
        assert a.id == b.id == p.id and set(a.answers) == set(b.answers) == set(p.answers)
        assert a.answers[a.gold or 0] == b.answers[b.gold or 0] == p.answers[0]
    assert plain[0].source == "truthfulqa.csv:2" and plain[0].meta == {
        "category": "Misconceptions",
        "type": "Adversarial",
    }
    # an item's order depends on the seed and its id, not on what else is read
    by_id = {i.id: i for i in seeded}
    for item in items(Source(loader="truthfulqa", path=path, sample=20, seed=0)) + items(
        Source(loader="truthfulqa", path=path, limit=5)
    ):
        assert item == by_id[item.id]


@pytest.mark.parametrize("name", ["pairwise", "llmbar"])
def test_llmbar_of_the_shared_data(name: str) -> None:
    path = shared("llmbar_natural.json")
    got = items(Source(loader=name, path=path))
    rows = json.loads(path.read_text())
    assert len(got) == 100
    for row, item in zip(rows, got, strict=True):
        assert item.answers == (row["output_1"], row["output_2"]) and item.gold == row["label"] - 1


def test_evalbiasbench_of_the_shared_data() -> None:
    got = items(Source(loader="evalbiasbench", path=shared("evalbiasbench.json")))
    assert len(got) == 80 and got[0].source == "evalbiasbench.json:length bias:0"
    assert Counter(i.meta["bias"] for i in got)["length bias"] == 17
