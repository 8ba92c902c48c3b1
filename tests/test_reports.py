"""Reports rebuilt from real run stores (runs of a deterministic in-process backend): the numbers agree with the
records, a partial run says so, bad input is one line and exit 2, run text is escaped, the page fetches nothing."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from agora.backends.base import backend
from agora.cli import main
from agora.metrics.types import Calibration, Estimate, Headline, RiskCoverage, RunMetrics
from agora.reports import RunReport, read_run, run_html, run_markdown
from agora.reports.plots import accuracy
from agora.runner.options import Options
from agora.runner.run import Run
from agora.runner.store import RunStore
from agora.scenarios import load_scenario
from agora.types import Completion, Message, OutputSchema, Settings
from tests.fixtures import hashed
from tests.fixtures.runs import execute
from tests.fixtures.scenarios import numbered_rows, write_scenario

EVIDENCE = "The sky looks blue because air scatters short wavelengths of sunlight more than long ones."
TRUE_QUOTE = "air scatters short wavelengths"
FALSE_QUOTE = "the sea paints the sky"
HOSTILE = '<script>window.__pwned = 1</script><img src="x" onerror="window.__pwned = 1"> & "quoted"'
JUDGES = ["mainstream", "skeptical", "contrarian"]
PROTOCOLS = [
    {"kind": "debate", "rounds": 1},
    {"kind": "consultancy", "rounds": 1},
    {"kind": "direct_qa", "name": "blind"},
    {"kind": "probes", "checks": ["position", "verbosity"]},
]
N_GOOD = 6
ITEMS = N_GOOD + 2  # and a hostile item and one that fails


@backend("quoting")
class QuotingBackend(hashed.HashedBackend):
    """``hashed``, except that every argument quotes the evidence once truly and once falsely, in hostile markup."""

    async def complete(
        self, messages: Sequence[Message], settings: Settings, schema: OutputSchema | None = None
    ) -> Completion:
        done = await super().complete(messages, settings, schema)
        if schema is not None:
            return done
        text = f"{done.text} As written, <quote>{TRUE_QUOTE}</quote>; not <quote>{FALSE_QUOTE}</quote>. {HOSTILE}"
        return done.model_copy(update={"text": text})


@pytest.fixture(autouse=True)
def fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hashed.reset()
    monkeypatch.setenv("AGORA_CACHE_DIR", str(tmp_path / "cache"))


def scenario(tmp_path: Path, judges: Sequence[str] = JUDGES, protocols: Sequence[dict] = PROTOCOLS) -> Path:
    """A scenario over an item full of markup, six plain items, one the backend refuses, and a malformed row."""
    rows: list[dict | str] = [
        {"id": "hostile", "question": f"Why is the sky blue? {HOSTILE}", "answers": ['"Rayleigh" <b>scattering</b>',
         "reflection & oceans"], "gold": 0, "evidence": EVIDENCE},
    ]  # fmt: skip
    rows += numbered_rows(N_GOOD, evidence=EVIDENCE)
    rows += [
        {"id": "refused", "question": "FAIL this one?", "answers": ["a", "b"], "gold": 1},
        "{not json",
    ]  # fmt: skip
    body = {
        "name": "sky",
        "description": "Reports test",
        "data": {"loader": "jsonl", "path": str(tmp_path / "items.jsonl")},
        "models": {"default": "quoting:m"},
        "judges": [{"persona": p} for p in judges],
        "protocols": list(protocols),
    }
    return write_scenario(tmp_path, body, rows, name=f"sky-{len(judges)}.yaml")


def make_run(
    tmp_path: Path,
    name: str = "run",
    *,
    stop_after: int | None = None,
    on_record: Callable[[Run], None] = lambda run: None,
    limit: int | None = None,
    judges: Sequence[str] = JUDGES,
) -> Path:
    """A real run into ``tmp_path/name``; with ``stop_after``, interrupted (Ctrl-C) after that many records."""
    path = scenario(tmp_path, judges)
    the_run = Run.create(load_scenario(path), Options(limit=limit), tmp_path / name, path)
    execute(the_run, stop_after=stop_after, on_record=on_record)
    return tmp_path / name


def module_run(tmp_path_factory: pytest.TempPathFactory, name: str, **options: Any) -> Path:
    """A run for the tests of a module, with a cache of its own; made in a thread of its own, since this one may
    already run an event loop (Playwright's sync API does)."""
    tmp_path = tmp_path_factory.mktemp(name)
    hashed.reset()
    with pytest.MonkeyPatch.context() as patch, ThreadPoolExecutor(1) as thread:
        patch.setenv("AGORA_CACHE_DIR", str(tmp_path / "cache"))
        return thread.submit(make_run, tmp_path, **options).result()


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One finished run shared by the tests that only read it."""
    return module_run(tmp_path_factory, "finished")


def agora(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run the ``agora`` command in process: exit code, stdout, stderr."""
    with pytest.raises(SystemExit) as exit_:
        main(list(args))
    captured = capsys.readouterr()
    return int(exit_.value.code or 0), captured.out, captured.err


def md_table(text: str, title: str) -> list[dict[str, str]]:
    """The rows of the Markdown table under the heading ``title``, as dicts by column."""
    lines = text[text.index(f" {title}\n") :].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    block = lines[start : next(i for i in range(start, len(lines) + 1) if i == len(lines) or not lines[i].strip())]
    split = [[c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]] for line in block]
    return [dict(zip(split[0], row, strict=True)) for row in split[2:]]


def row(rows: list[dict[str, str]], **match: str) -> dict[str, str]:
    (found,) = [r for r in rows if all(r[k] == v for k, v in match.items())]
    return found


def outcomes(directory: Path, protocol: str, judge: str) -> dict[str, tuple[int | None, float | None, int]]:
    """The test's own reading of the store: item → (choice, stated confidence, gold) of ``judge`` (or the seat's
    ``decision``) on the items with gold and a decision."""
    found = {}
    for r in RunStore(directory).records():
        if r.protocol != protocol or r.status != "ok" or r.gold is None or r.decision is None:
            continue
        if judge == "decision":
            choice = r.decision.outcome if isinstance(r.decision.outcome, int) else None
            found[r.item] = (choice, r.decision.confidence, r.gold)
        else:
            (verdict,) = [v for v in r.verdicts if v.judge == judge]
            found[r.item] = (verdict.choice, verdict.confidence, r.gold)
    return found


def share(values: Sequence[bool]) -> str:
    return f"{100 * sum(values) / len(values):.1f}%"


# -- the Markdown report


def test_the_markdown_headline_agrees_with_the_records(finished: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = agora(capsys, "report", str(finished))
    assert code == 0 and err == "" and out.startswith("# Run report: sky\n")
    assert "Partial" not in out
    headline = md_table(out, "Headline")
    expected = {(p["name"] if "name" in p else p["kind"], j) for p in PROTOCOLS[:3] for j in [*JUDGES, "decision"]}
    assert {(r["protocol"], r["judge"]) for r in headline if r["n"] != "0"} == expected  # (probes: errors only)
    for protocol, judge in [("debate", "decision"), ("blind", "skeptical"), ("consultancy", "contrarian")]:
        seen = outcomes(finished, protocol, judge)
        line = row(headline, protocol=protocol, judge=judge)
        assert line["accuracy [95% CI]"].startswith(share([c == g for c, _, g in seen.values()]) + " [")
        assert line["n"] == str(len(seen))
    # the refused item fails the debate outright: one error record, counted in the debate's rows only
    assert row(headline, protocol="debate", judge="decision")["errors"] == "1"
    assert row(headline, protocol="blind", judge="decision")["errors"] == "0"
    assert "| malformed rows | 1 |" in out and f"| items | {ITEMS} |" in out
    paired = md_table(out, "Paired comparisons")
    assert {(r["A"], r["B"]) for r in paired} == {("debate", "consultancy"), ("debate", "blind"),
                                                   ("consultancy", "blind")}  # fmt: skip
    assert {r["check"] for r in md_table(out, "Robustness")} == {"position", "verbosity"}
    assert {r["player"] for r in md_table(out, "Ratings")} == {"debater_a", "debater_b"}


def test_the_threshold_sets_coverage(finished: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = agora(capsys, "report", str(finished), "--threshold", "80")
    assert code == 0
    line = row(md_table(out, "Headline"), protocol="blind", judge="mainstream")
    seen = outcomes(finished, "blind", "mainstream").values()
    covered = [c == g for c, confidence, g in seen if c is not None and (confidence or 0) >= 80]
    assert 0 < len(covered) < len(seen)  # the threshold bites
    assert line["coverage ≥80"] == f"{100 * len(covered) / len(seen):.1f}%"
    assert line["selective accuracy"] == share(covered)


def test_a_report_is_written_to_out(finished: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for fmt, start in (("md", "# Run report: sky"), ("html", "<!doctype html>")):
        target = tmp_path / "reports" / f"report.{fmt}"  # the missing directory is made
        code, out, err = agora(capsys, "report", str(finished), "--format", fmt, "--out", str(target))
        assert code == 0 and out == "" and str(target) in err
        assert target.read_text(encoding="utf-8").startswith(start)


@pytest.mark.parametrize(
    ("make", "args", "message"),
    [
        (lambda d: d, ["report", "{d}/missing"], "{d}/missing: not a run directory"),
        (lambda d: d.mkdir(), ["report", "{d}"], "{d}: not a run directory (no run.sqlite)"),
        (lambda d: (d.mkdir(), (d / "run.sqlite").write_text("junk")), ["report", "{d}"], "{d}/run.sqlite: not a"),
        (lambda d: d, ["compare", "{finished}", "{d}"], "{d}: not a run directory"),
        (lambda d: d, ["report", "{finished}", "--format", "pdf"], "--format: expected md or html, got 'pdf'"),
        (lambda d: d.write_text(""), ["report", "{finished}", "--out", "{d}/r.md"], "--out: {d}/r.md: {d} is not a"),
    ],
    ids=["no-directory", "no-store", "not-a-database", "compare-one-missing", "bad-format", "unwritable-out"],
)
def test_bad_input_is_one_line_naming_the_path_and_exit_2(
    make: Callable[[Path], object],
    args: list[str],
    message: str,
    finished: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    target = tmp_path / "target"
    make(target)
    code, out, err = agora(capsys, *(a.format(d=target, finished=finished) for a in args))
    assert code == 2 and out == ""
    (line,) = err.strip().splitlines()
    assert line.startswith("agora: error: ConfigError: ") and message.format(d=target) in line


# -- partial runs


def test_an_interrupted_run_gives_a_partial_report_until_it_is_resumed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = make_run(tmp_path, stop_after=7)
    code, out, err = agora(capsys, "report", str(directory))
    assert code == 0 and "partial run (status interrupted)" in err
    assert "Partial run: the run was interrupted" in out and f"agora resume {directory}" in out
    recorded = len(list(RunStore(directory).records()))
    assert 7 <= recorded < ITEMS * len(PROTOCOLS)
    n = sum(int(r["n"]) for r in md_table(out, "Headline") if r["judge"] == "decision")
    assert 0 < n <= recorded
    page = run_html(read_run(directory))
    assert 'class="partial"' in page and "the run was interrupted" in page

    resumed = Run.open(directory)
    asyncio.run(resumed.execute())
    resumed.close()
    code, out, err = agora(capsys, "report", str(directory))
    assert code == 0 and err == "" and "Partial" not in out


def test_a_report_of_a_run_still_running_says_so_and_calls_no_model(tmp_path: Path) -> None:
    seen: list[tuple[str, int, int]] = []

    def report_now(the_run: Run) -> None:
        if not seen and len(list(the_run.store.records())) >= 5:
            calls = sum(hashed.calls.values())
            text = run_markdown(read_run(the_run.directory))
            seen.append((text, calls, sum(hashed.calls.values())))

    make_run(tmp_path, on_record=report_now)
    ((text, before, after),) = seen
    assert "Partial run: the run is still running (status running)" in text
    assert before == after


# -- the HTML page


def test_the_html_page_escapes_run_text_and_marks_quotes(finished: Path) -> None:
    page = run_html(read_run(finished))
    assert page.count("<script") == 1 and "window.__pwned" in page  # only the page's own script runs
    assert "<img" not in page and "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in page
    assert "&lt;b&gt;scattering&lt;/b&gt;" in page and "&quot;Rayleigh&quot;" in page
    assert re.search(r'data-text="[^"]*&quot;rayleigh&quot;[^"]*"', page)  # attributes hold escaped text
    verified = re.findall(r'<q class="v"[^>]*>([^<]*)</q><span class="qmark right"[^>]*>✓ verified', page)
    unverified = re.findall(r'<q class="u"[^>]*>([^<]*)</q><span class="qmark wrong"[^>]*>✗ unverified', page)
    arguments = sum(len(r.transcript) for r in read_run(finished).records if r.protocol in ("debate", "consultancy"))
    assert verified == [TRUE_QUOTE] * arguments and unverified == [FALSE_QUOTE] * arguments


def test_the_html_page_is_self_contained_with_every_item_and_unique_ids(finished: Path) -> None:
    report = read_run(finished)
    page = run_html(report)
    assert '<meta http-equiv="Content-Security-Policy" content="default-src \'none\';' in page
    assert not re.search(r"https?://", page)
    assert not re.search(r"""\s(?:src|href|xlink:href)=["'](?!#)""", page)  # only in-page links
    assert page.count('<details class="item"') == ITEMS
    ids = re.findall(r'\sid="([^"]+)"', page)
    assert len(ids) == len(set(ids))
    for target in re.findall(r'(?:href="#|url\(#)([^")]+)', page):
        assert target in ids
    assert page.count('<svg role="img"') == 3 + 3 + 1  # accuracy, reliability, risk-coverage; 3 κ maps; flips
    refused = page[page.index('<span class="id">refused</span>') :]
    refused = refused[: refused.index("</details>")]
    assert "debate error" in refused and "FAIL" in refused


def test_compare_pairs_the_items_both_runs_have(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = make_run(tmp_path, "a", judges=JUDGES[:2])
    b = make_run(tmp_path, "b", limit=4)
    code, out, _ = agora(capsys, "compare", str(a), str(b))
    assert code == 0 and out.startswith("# Comparison: sky (A) vs sky (B)")
    rows = md_table(out, "Side by side")
    only_b = row(rows, protocol="blind", judge="contrarian")
    assert only_b["accuracy A"] == "absent" and only_b["A − B [95% CI]"] == "–"
    for protocol, judge in [("blind", "decision"), ("debate", "decision"), ("consultancy", "mainstream")]:
        right_a = {i: c == g for i, (c, _, g) in outcomes(a, protocol, judge).items()}
        right_b = {i: c == g for i, (c, _, g) in outcomes(b, protocol, judge).items()}
        common = sorted(set(right_a) & set(right_b))
        difference = (sum(right_a[i] for i in common) - sum(right_b[i] for i in common)) / len(common)
        line = row(rows, protocol=protocol, judge=judge)
        assert line["common n"] == str(len(common)) == "4"
        assert line["A − B [95% CI]"].startswith(f"{100 * difference:+.1f}%")
        assert line["only A right"] == str(sum(right_a[i] and not right_b[i] for i in common))
    target = tmp_path / "compare.html"
    code, _, _ = agora(capsys, "compare", str(a), str(b), "--format", "html", "--out", str(target))
    page = target.read_text(encoding="utf-8")
    assert code == 0 and page.count("<script") == 0 and '<h2 id="side-by-side">' in page


# -- renderers on metrics built by hand


def headline(protocol: str, judge: str, value: float | None) -> Headline:
    estimate = Estimate(value, None if value is None else value - 0.1, None if value is None else value + 0.1, 10)
    return Headline(protocol, judge, None, None, 10, estimate, 0.5, 0.8, Calibration(None, None, (), 0),
                    RiskCoverage((), (), (), None), 1.0, value, 0.0, 0)  # fmt: skip


def by_hand(*rows: Headline) -> RunReport:
    metrics = RunMetrics("hand", False, 10, 0, rows, (), (), (), (), {"status": "finished"})
    return RunReport(Path("hand"), metrics, (), (), ())


def test_names_are_text_in_plots_and_tables() -> None:
    report = by_hand(headline('<b>&"x', "$x$", 0.7), headline("p", "a|b", 0.4))
    svg = accuracy(report.metrics.headline)
    assert svg is not None and "<b>" not in svg and "&lt;b&gt;&amp;" in svg and "$x$" in svg
    assert row(md_table(run_markdown(report), "Headline"), protocol="p")["judge"] == "a\\|b"  # one cell, pipe escaped
    page = run_html(report)
    assert "&lt;b&gt;&amp;&quot;x" in page and '<b>&"x' not in page


def test_nothing_to_draw_draws_nothing() -> None:
    report = by_hand(headline("p", "j", None))
    assert accuracy(report.metrics.headline) is None
    assert "<svg" not in run_html(report) and "| p | j | – |" in run_markdown(report)
