"""The response cache commits the completions that arrive in one turn of the event loop together, at its end."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from agora.runner.cache import ResponseCache
from agora.types import Completion


def stored(path: Path) -> set[str]:
    """The keys another connection (another process) sees committed."""
    with sqlite3.connect(path) as db:
        return {key for (key,) in db.execute("SELECT key FROM responses")}


def reply(text: str) -> Completion:
    return Completion(text=text, model="m")


async def test_a_turns_completions_are_served_at_once_and_committed_at_its_end(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "c.sqlite")
    try:
        for i in range(5):
            cache.put(f"k{i}", reply(f"r{i}"))
        assert stored(cache.path) == set()  # not yet: the turn is not over
        assert cache.get("k3") == reply("r3")  # but served already
        await asyncio.sleep(0)  # the turn ends
        assert stored(cache.path) == {f"k{i}" for i in range(5)}
    finally:
        cache.close()


def test_outside_an_event_loop_each_completion_is_committed_at_once(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "c.sqlite")
    try:
        cache.put("k", reply("r"))
        assert stored(cache.path) == {"k"}
    finally:
        cache.close()


async def test_close_commits_what_is_left(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "c.sqlite")
    cache.put("k", reply("r"))
    cache.close()  # before the turn ends: an interrupted run's last replies are kept
    assert stored(tmp_path / "c.sqlite") == {"k"}


async def test_a_failed_commit_is_raised_by_the_next_call_in_a_task(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "c.sqlite")
    try:
        blocker = sqlite3.connect(cache.path, timeout=0)
        blocker.execute("BEGIN EXCLUSIVE")  # another writer holds the database: the commit cannot take it
        cache._db.execute("PRAGMA busy_timeout = 0")
        cache.put("k", reply("r"))
        await asyncio.sleep(0)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            cache.get("other")
        blocker.rollback()
        blocker.close()
        assert cache.get("k") is None  # the failed batch is gone: those calls would be made again, never invented
    finally:
        cache.close()
