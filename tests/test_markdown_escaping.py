"""Hostile run text in the Markdown reports: rendered by a Markdown renderer that passes raw HTML through (as many
do), it stays text. No tag, no link, no image, and every table row keeps its cells."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

pytest.importorskip("scipy", reason="the metrics need the 'report' extra: pip install 'agora[report]'")

from agora.items import Item
from agora.reports import compare_markdown, read_run, run_markdown
from agora.runner.record import Record
from agora.runner.store import RunStore
from agora.types import Decision, Turn, Verdict

SCRIPT = "<script>alert(1)</script>"
IMAGE = '<img src="x" onerror="alert(2)">'
TAG = "<b>bold</b><!-- comment -->"
LINK = "[click](javascript:alert(3)) ![pixel](https://tracker.example/p.png)"
BREAKER = "a | b\\| e\n| c |\r\nd"
HOSTILE = f"{SCRIPT} {IMAGE} {TAG} {LINK} {BREAKER}"


def hostile_store(directory: Path) -> RunStore:
    """A run whose scenario, item text and metadata, judge names, transcript, reasoning and flags are hostile."""
    directory.mkdir()
    store = RunStore(directory, create=True)
    store.set_manifest(
        status="running",
        models={f"hashed:{SCRIPT}": None},
        scenario={
            "name": f"evil {SCRIPT}",
            "description": HOSTILE,
            "protocols": [{"name": f"qa {IMAGE}", "kind": "direct_qa"}, {"name": "debate", "kind": "debate"}],
        },
    )
    for k in range(4):
        item = f"i{k} {TAG}"
        store.add_item(Item(id=item, question=HOSTILE, answers=(HOSTILE, "b"), gold=k % 2,
                            meta={"topic": f"{HOSTILE} {k % 2}", BREAKER: f"v{k % 2}"}))  # fmt: skip
        verdicts = [
            Verdict(choice=(k + j) % 2, confidence=30 + 20 * j, reasoning=HOSTILE, judge=name, persona=name, model="m")
            for j, name in enumerate([f"judge {SCRIPT}", f"judge {BREAKER}"])
        ]
        for protocol in (f"qa {IMAGE}", "debate"):
            decision = Decision(outcome=k % 2, rule="majority", votes=[1, 1], dissent=[HOSTILE],
                                flags=[f"{TAG}:x", f"injection:turn:{SCRIPT}"])  # fmt: skip
            transcript = [Turn(speaker=f"debater {IMAGE}", role="debater", round=1, text=HOSTILE, side=0)]
            store.put(Record(key=f"{protocol}/{item}", item=item, protocol=protocol, status="ok", gold=k % 2,
                             decision=decision, verdicts=verdicts, transcript=transcript,
                             sides={f"debater {IMAGE}": 0, "debater_b": 1}))  # fmt: skip
    return store


@pytest.fixture
def text(tmp_path: Path) -> str:
    store = hostile_store(tmp_path / "evil")
    store.close()
    report = read_run(tmp_path / "evil")
    return run_markdown(report) + compare_markdown(report, report)


def rendered(markdown: str) -> str:
    """``markdown`` as HTML, by a CommonMark renderer with tables on and raw HTML let through."""
    return MarkdownIt("commonmark", {"html": True}).enable("table").render(markdown)


def test_hostile_run_text_renders_as_text(text: str) -> None:
    html = rendered(text)
    assert not re.search(r"<(script|img|b|a)\b", html) and "<!--" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "onerror" in html  # shown, not run
    assert "javascript:" in html and 'href="' not in html and 'src="' not in html  # no link, no image fetched


def test_hostile_names_keep_every_table_row_whole(text: str) -> None:
    html = rendered(text)
    for table in re.findall(r"<table>.*?</table>", html, flags=re.S):
        widths = {len(re.findall(r"<t[hd][ >]", body)) for body in re.findall(r"<tr>(.*?)</tr>", table, flags=re.S)}
        assert len(widths) == 1, table  # every row has as many cells as the header
    assert "judge &lt;script&gt;alert(1)&lt;/script&gt;" in html and "judge a | b\\| e | c | d" in html


def test_the_markdown_source_has_no_raw_tag(text: str) -> None:
    assert not re.search(r"<(script|img|b|!--)", text)
    assert "](" not in text  # no inline link or image
