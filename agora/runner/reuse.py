"""Reuse: a new run takes the records of a finished identical run beside it instead of executing its tasks.

Runs are identical when everything that shapes their results is: the scenario, the data (and persona and rubric
files) it reads, the options that change results (``--model``, ``--limit``, ``--seed``), the installed versions,
the agora commit and the model files. A run with error records is never reused (a real run retries them), nor one
made from a checkout with uncommitted changes, whose code cannot be told apart. The candidates are the run
directories beside the new one, newest first; one that cannot be read is passed over.

This module imports no LangGraph: a reused run starts and ends in a fraction of a second.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agora.errors import AgoraError, ConfigError
from agora.log import get_logger
from agora.runner.store import STORE, RunStore

if TYPE_CHECKING:
    from agora.runner.run import Run

log = get_logger("agora.runner")

SAME = ("scenario_digest", "data_digest", "versions", "models")
"""Manifest entries that must be equal (and set) in both runs."""
SHAPING = ("model", "limit", "seed")
"""The options that shape results; ``concurrency``, ``executor`` and ``ray_address`` do not."""


def identical(new: Mapping[str, Any], old: Mapping[str, Any]) -> bool:
    """Whether the run with manifest ``old`` is finished, without error records, and gives the results that the run
    with manifest ``new`` would."""
    counts = old.get("counts")
    if old.get("status") != "finished" or not isinstance(counts, dict) or "error" in counts:
        return False
    if any(new.get(key) is None or old.get(key) != new.get(key) for key in SAME):
        return False
    options, before = new.get("options") or {}, old.get("options") or {}
    if not isinstance(before, dict) or any(before.get(key) != options.get(key) for key in SHAPING):
        return False
    return _same_code(new.get("git"), old.get("git"))


def _same_code(new: str | None, old: str | None) -> bool:
    """Whether two git shas name the same code: equal and clean; outside git (both ``None``), the versions decide."""
    if new is None or old is None:
        return new is None and old is None
    return new == old and not new.endswith("-dirty")


def _siblings(directory: Path) -> Iterator[Path]:
    """The run directories beside ``directory``, the most recently written first."""
    stamped = []
    for store in directory.parent.glob(f"*/{STORE}"):
        if store.parent.name == directory.name:
            continue
        try:
            stamped.append((store.stat().st_mtime, store.parent))
        except OSError:
            continue
    for _, sibling in sorted(stamped, key=lambda pair: pair[0], reverse=True):
        yield sibling


def find(directory: Path, manifest: Mapping[str, Any]) -> RunStore | None:
    """The store (open, read-only) of the newest finished run beside ``directory`` identical to the run with
    ``manifest``; ``None`` when there is none."""
    for sibling in _siblings(directory):
        try:
            store = RunStore(sibling, readonly=True)
        except (AgoraError, OSError, sqlite3.Error):
            continue
        try:
            if identical(manifest, store.manifest()):
                return store
        except (AgoraError, OSError, sqlite3.Error):
            pass
        store.close()
    return None


def reuse(run: Run) -> Path | None:
    """Copy into the new ``run`` the results of a finished identical run beside it, mark it finished (``reused_from``
    names the source) and export its ``results.jsonl``; the source directory, or ``None`` when there is none (or its
    results could not be read, so that ``run`` executes its tasks after all)."""
    source = find(run.directory, run.store.manifest())
    if source is None:
        return None
    try:
        run.store.copy_from(source)
    except ConfigError as exc:  # a full disk (NoSpace) stops the run instead
        log.warning("run.not_reused", directory=str(source.directory), error=str(exc))
        return None
    finally:
        source.close()
    counts = run.store.counts()
    run.store.set_manifest(
        reused_from=str(source.directory),
        status="finished",
        finished=datetime.now(timezone.utc).isoformat(),
        counts=counts,
    )
    run.store.export()
    run.tally.skipped = sum(counts.values())
    run.tally.malformed = len(run.store.malformed())
    return source.directory
