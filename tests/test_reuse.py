"""``agora run`` of a scenario that a finished identical run beside it has done already: its records are copied, and
no model is called; anything that could change the results (the data, a persona file, ``--seed``, ``--limit``, the
code) makes a real run, as do ``--fresh``, a run with failed tasks, an unfinished one and ``agora resume``.

Each run has a response cache of its own (``cache: false``), so a run that executes makes calls, counted by the
``hashed`` backend, and one that reuses makes none.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agora.cli import main
from agora.errors import ConfigError
from agora.runner import manifest
from agora.runner.options import Options
from agora.runner.reuse import identical
from agora.runner.run import Run
from agora.runner.store import RESULTS, RunStore
from agora.scenarios import load_scenario
from tests.fixtures import hashed
from tests.fixtures.runs import execute
from tests.fixtures.scenarios import numbered_rows, write_scenario

N_ITEMS = 6
PROTOCOLS = 2
TASKS = N_ITEMS * PROTOCOLS
SHA = "0123456789abcdef0123456789abcdef01234567"
MAINSTREAM = Path(__file__).resolve().parent.parent / "personas" / "mainstream.yaml"


@pytest.fixture(autouse=True)
def fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Counted calls from zero, a cache directory of the test's own, and a clean checkout at ``SHA``."""
    hashed.reset()
    monkeypatch.setenv("AGORA_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(manifest, "git_sha", lambda: SHA)


def scenario(directory: Path, rows: list[Any] | None = None, **changes: Any) -> Path:
    persona = directory / "judge.yaml"
    if not persona.exists():
        persona.write_text(MAINSTREAM.read_text().replace("name: mainstream", "name: judge"))
    body = {
        "name": "reuse",
        "data": {"loader": "jsonl", "path": "items.jsonl"},
        "models": {"default": "hashed:m"},
        "judges": [{"persona": "judge.yaml"}],
        "protocols": [{"kind": "debate", "rounds": 1}, {"kind": "direct_qa"}],
        "cache": False,
        "concurrency": 3,
    }
    rows = [*numbered_rows(N_ITEMS), "{not json"] if rows is None else rows
    return write_scenario(directory, body, rows, name="reuse.yaml", **changes)


def agora(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """Run the ``agora`` command in process: exit code and stdout."""
    with pytest.raises(SystemExit) as exit_:
        main(list(args))
    return int(exit_.value.code or 0), capsys.readouterr().out


def calls() -> int:
    return sum(hashed.calls.values())


def run(capsys: pytest.CaptureFixture[str], path: Path, directory: Path, *args: str) -> tuple[int, str, int]:
    """``agora run`` into ``directory``: exit code, stdout and the model calls it made."""
    hashed.reset()
    code, out = agora(capsys, "run", str(path), "--out", str(directory), *args)
    return code, out, calls()


def saved(directory: Path) -> dict[str, Any]:
    store = RunStore(directory, readonly=True)
    try:
        return store.manifest()
    finally:
        store.close()


def contents(directory: Path) -> dict[str, Any]:
    """What a run holds: items, malformed rows, records (in order) and fits."""
    store = RunStore(directory, readonly=True)
    try:
        return {
            "items": list(store.items()),
            "malformed": store.malformed(),
            "records": [r.model_dump(mode="json", exclude={"usage", "seconds"}) for r in store.records()],
            "fits": store.fits(),
        }
    finally:
        store.close()


def test_a_second_run_copies_the_records_of_the_finished_identical_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = scenario(tmp_path)
    first, second = tmp_path / "runs" / "first", tmp_path / "runs" / "second"
    code, _, made = run(capsys, path, first)
    assert code == 0 and made > 0

    code, out, made = run(capsys, path, second, "--concurrency", "1")  # concurrency does not shape results

    assert code == 0, out
    assert made == 0
    assert f"reused {TASKS} records of {first} (finished identical run): no model call" in out
    assert "0 model calls" in out and "1 malformed rows" in out
    assert contents(second) == contents(first)
    assert len(contents(second)["records"]) == TASKS
    assert (second / RESULTS).read_text() == (first / RESULTS).read_text()
    before, after = saved(first), saved(second)
    assert after["reused_from"] == str(first) and "reused_from" not in before
    assert (after["status"], after["counts"]) == ("finished", {"ok": TASKS})
    assert after["data_digest"] == before["data_digest"] is not None
    assert after["created"] > before["finished"] and after["finished"] >= after["created"]


def test_a_reused_run_is_reported_like_its_source(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = scenario(tmp_path)
    first, second = tmp_path / "runs" / "first", tmp_path / "runs" / "second"
    run(capsys, path, first)
    run(capsys, path, second)
    assert "reused_from" in saved(second)

    reports = [agora(capsys, "report", str(directory)) for directory in (first, second)]

    assert [code for code, _ in reports] == [0, 0]
    own = ("| created |", "| finished |", "| directory |")  # the run's own: the rest must agree
    texts = [[line for line in out.splitlines() if not line.startswith(own)] for _, out in reports]
    assert "## Headline" in texts[0] and texts[1] == texts[0]


def test_the_newest_identical_run_is_reused_and_an_unreadable_one_passed_over(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = scenario(tmp_path)
    runs = tmp_path / "runs"
    run(capsys, path, runs / "old", "--fresh")
    run(capsys, path, runs / "new", "--fresh")
    (runs / "junk").mkdir()
    (runs / "junk" / "run.sqlite").write_bytes(os.urandom(4096))
    for age, name in enumerate(("junk", "new", "old")):
        os.utime(runs / name / "run.sqlite", (1e9 - age, 1e9 - age))

    code, out, made = run(capsys, path, runs / "third")

    assert (code, made) == (0, 0), out
    assert saved(runs / "third")["reused_from"] == str(runs / "new")


def change_data(directory: Path, path: Path) -> list[str]:
    rows = numbered_rows(N_ITEMS)
    rows[2]["question"] = "Question 2, reworded?"
    write_scenario(directory, path.read_text(), rows, name=path.name)
    return []


def change_persona(directory: Path, path: Path) -> list[str]:
    persona = directory / "judge.yaml"
    persona.write_text(persona.read_text().replace("You are a judge", "You are a careful judge"))
    return []


CHANGES: dict[str, Callable[[Path, Path], list[str]]] = {
    "data file changed": change_data,
    "persona file changed": change_persona,
    "--seed": lambda d, p: ["--seed", "7"],
    "--limit": lambda d, p: ["--limit", "3"],
    "--fresh": lambda d, p: ["--fresh"],
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_a_run_that_could_differ_executes(change: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = scenario(tmp_path)
    run(capsys, path, tmp_path / "runs" / "first")
    args = CHANGES[change](tmp_path, path)

    code, out, made = run(capsys, path, tmp_path / "runs" / "second", *args)

    assert code == 0, out
    assert made > 0 and "reused" not in out
    assert "reused_from" not in saved(tmp_path / "runs" / "second")


def test_a_run_with_failed_tasks_is_not_reused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = numbered_rows(N_ITEMS)
    rows[1]["question"] = "Question 1 (FAIL)?"
    path = scenario(tmp_path, rows)
    code, _, _ = run(capsys, path, tmp_path / "runs" / "first")
    assert code == 1 and "error" in saved(tmp_path / "runs" / "first")["counts"]

    code, out, made = run(capsys, path, tmp_path / "runs" / "second")

    assert code == 1 and made > 0 and "reused" not in out
    assert "reused_from" not in saved(tmp_path / "runs" / "second")


def test_neither_an_unfinished_run_is_reused_nor_does_resume_reuse(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = scenario(tmp_path)
    runs = tmp_path / "runs"
    execute(Run.create(load_scenario(path), Options(), runs / "stopped", path), stop_after=3)
    assert saved(runs / "stopped")["status"] == "interrupted"

    code, out, made = run(capsys, path, runs / "finished")
    assert (code, "reused" in out) == (0, False) and made > 0  # the interrupted run is passed over

    hashed.reset()
    code, out = agora(capsys, "resume", str(runs / "stopped"))  # a finished identical run beside it now

    assert code == 0, out
    assert calls() > 0 and "reused" not in out
    assert "reused_from" not in saved(runs / "stopped")
    assert len(contents(runs / "stopped")["records"]) == TASKS


def test_a_checkout_with_uncommitted_changes_never_reuses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(manifest, "git_sha", lambda: f"{SHA}-dirty")
    path = scenario(tmp_path)
    run(capsys, path, tmp_path / "runs" / "first")

    _, out, made = run(capsys, path, tmp_path / "runs" / "second")

    assert made > 0 and "reused" not in out


def test_a_run_whose_records_cannot_be_copied_executes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = scenario(tmp_path)
    run(capsys, path, tmp_path / "runs" / "first")

    def unreadable(self: RunStore, other: RunStore) -> None:
        raise ConfigError(f"{other.path}: not a readable run store: disk I/O error")

    monkeypatch.setattr(RunStore, "copy_from", unreadable)
    code, out, made = run(capsys, path, tmp_path / "runs" / "second")

    assert code == 0 and made > 0 and "reused" not in out
    assert len(contents(tmp_path / "runs" / "second")["records"]) == TASKS


FINISHED = {
    "status": "finished",
    "counts": {"ok": 4},
    "scenario_digest": "s",
    "data_digest": "d",
    "versions": {"agora": "1"},
    "models": {"hashed:m": None},
    "options": {"model": None, "limit": None, "seed": None, "concurrency": None, "executor": "local"},
    "git": SHA,
}


@pytest.mark.parametrize(
    ("new", "old", "expected"),
    [
        ({}, {}, True),
        ({"options": {**FINISHED["options"], "concurrency": 8, "executor": "ray"}}, {}, True),
        ({"git": None}, {"git": None}, True),  # outside git, the versions decide
        ({"git": None}, {}, False),
        ({"git": "f" * 40}, {}, False),
        ({"git": f"{SHA}-dirty"}, {"git": f"{SHA}-dirty"}, False),
        ({}, {"status": "interrupted"}, False),
        ({}, {"counts": {"ok": 3, "error": 1}}, False),
        ({"data_digest": None}, {"data_digest": None}, False),  # a data file could not be read
        ({"versions": {"agora": "2"}}, {}, False),
        ({"models": {"local:x": "a"}}, {"models": {"local:x": "b"}}, False),
        ({"options": {**FINISHED["options"], "model": "hashed:n"}}, {}, False),
    ],
)
def test_identical_runs(new: dict[str, Any], old: dict[str, Any], expected: bool) -> None:
    assert identical({**FINISHED, **new}, {**FINISHED, **old}) is expected


def test_the_modules_made_lazy_import_no_langgraph() -> None:
    code = "import sys, agora.items, agora.state, agora.runner.reuse; print(sorted(m for m in sys.modules if m.startswith(('langgraph', 'langchain'))))"  # noqa: E501
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_the_reuse_path_imports_no_langgraph() -> None:
    """A reused run loads no graph machinery (LangGraph's graphs and Pregel, LangChain): only LangGraph's constants,
    a few milliseconds."""
    code = (
        "import sys, agora.cli.runs, agora.scenarios, agora.runner.run, agora.runner.progress, agora.runner.reuse; "
        "print(sorted({m.split('.')[0] + '.' + m.split('.')[1] for m in sys.modules "
        "if m.startswith(('langgraph.graph', 'langgraph.pregel', 'langchain_core.'))}))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
