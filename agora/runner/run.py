"""A run: a scenario's tasks (every item under every protocol) executed into a run directory.

Items stream from the loaders; at most ``concurrency`` tasks are in flight, so memory does not grow with the
data set. Each task ends in a record (a result or an explicit error) committed to the run store as it completes.
``resume`` reopens a run directory and does only the tasks without a record: exactly once, and calls that
completed before a crash come from the response cache, so none is billed twice.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from agora.aggregation.fitting import fit_after_run
from agora.errors import ConfigError, ExecutionError
from agora.items import Item, Malformed
from agora.loaders import read
from agora.log import get_logger
from agora.paths import cache_dir
from agora.protocols.assignment import Assignment
from agora.redaction import masked, redact_data
from agora.runner import manifest
from agora.runner.cache import ResponseCache
from agora.runner.options import Executor, Options
from agora.runner.record import Record, task_key
from agora.runner.store import NoSpace, RunStore, no_space, storage_error
from agora.scenarios import Scenario, load_scenario

log = get_logger("agora.runner")

RunTask = Callable[[Item, str, Assignment | None], Awaitable[Record]]


@dataclass
class Tally:
    """What a run did so far: tasks recorded (ok, error), tasks found already done, rows malformed, usage."""

    ok: int = 0
    errors: int = 0
    skipped: int = 0
    malformed: int = 0
    calls: int = 0
    cached: int = 0
    retries: int = 0
    tokens: int = 0

    def add(self, record: Record) -> None:
        if record.status == "ok":
            self.ok += 1
        else:
            self.errors += 1
        usage = record.usage
        self.calls += usage.get("calls", 0)
        self.cached += usage.get("cached", 0)
        self.retries += usage.get("retries", 0)
        self.tokens += usage.get("prompt_tokens", 0) + usage.get("completion_tokens", 0)


def items(scenario: Scenario, limit: int | None = None) -> Iterator[Item | Malformed]:
    """The scenario's items, source after source (ids prefixed ``name/`` when there are several); ``limit`` in all."""
    several = len(scenario.data) > 1
    taken = 0
    for spec in scenario.data:
        source = spec.model_copy(
            update={
                "seed": scenario.seed if spec.seed is None else spec.seed,
                "name": spec.name or (spec.path.stem if several else None),
            }
        )
        for entry in read(source):
            if isinstance(entry, Item):
                if limit is not None and taken >= limit:
                    return
                taken += 1
            yield entry


def open_cache(scenario: Scenario, directory: Path) -> ResponseCache:
    """The response cache: shared (``$AGORA_CACHE_DIR/responses.sqlite``), a given file, or private to the run."""
    if scenario.cache is True:
        path = cache_dir() / "responses.sqlite"
    elif scenario.cache is False:
        path = directory / "calls.sqlite"
    else:
        path = Path(scenario.cache)
    try:
        return ResponseCache(path)
    except (OSError, sqlite3.Error) as exc:
        raise storage_error(path, exc, "cannot open the response cache") from None


ERASED = "give them through the environment (OPENAI_BASE_URL, OPENAI_API_KEY) to have a run you can resume"


def _stored_scenario(saved: dict[str, Any]) -> Scenario:
    """The scenario of a run's manifest; where credentials were masked, the scenario file it was read from, if that
    file still holds the same scenario."""
    scenario = Scenario.model_validate(saved["scenario"])
    if not masked(json.dumps(saved["scenario"])):
        return scenario
    source = saved.get("scenario_file")
    fresh = load_scenario(source) if source and Path(source).is_file() else None
    if fresh is None or fresh.digest() != saved.get("scenario_digest"):
        raise ConfigError(f"{source}: the run's credentials are not stored and this file is gone or changed: {ERASED}")
    return fresh


def default_directory(scenario: Scenario) -> Path:
    """``runs/NAME-YYYYmmdd-HHMMSS`` under the current directory."""
    return Path("runs") / f"{scenario.name}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"


class Run:
    """One run directory: its scenario, options, store and cache."""

    def __init__(self, directory: Path, scenario: Scenario, options: Options, store: RunStore) -> None:
        self.directory = directory
        self.scenario = scenario
        self.options = options
        self.store = store
        self.tally = Tally()

    @classmethod
    def create(
        cls, scenario: Scenario, options: Options, directory: Path | None = None, source: Path | None = None
    ) -> Run:
        """A new run of ``scenario`` in ``directory`` (which must not hold a run already)."""
        directory = directory or scenario.output or default_directory(scenario)
        store = RunStore(directory, create=True, exclusive=True)
        specs = {options.model} if options.model else scenario.model_specs()
        store.set_manifest(
            scenario=scenario.stored(),
            scenario_file=str(source.resolve()) if source else None,
            scenario_digest=scenario.digest(),
            options=redact_data(asdict(options)),
            seed=scenario.seed if options.seed is None else options.seed,
            versions=manifest.versions(),
            git=manifest.git_sha(),
            models=redact_data({spec: manifest.model_hash(spec) for spec in sorted(specs)}),
            data_digest=manifest.data_digest(scenario),
            command=redact_data(manifest.command()),
            created=datetime.now(timezone.utc).isoformat(),
            status="running",
        )
        return cls(directory, scenario, options, store)

    @classmethod
    def open(cls, directory: Path) -> Run:
        """The run in ``directory``, to resume; one marked running has lost its process, since its lock was free."""
        store = RunStore(directory, exclusive=True)
        try:
            saved = store.manifest()
            scenario = _stored_scenario(saved)
            options = Options(**saved["options"])
            if options.model is not None and masked(options.model):
                raise ConfigError(f"{directory}: the run's --model held credentials, which are not stored: {ERASED}")
            if saved.get("status") == "running":
                log.warning("run.abandoned", directory=str(directory), pid=saved.get("pid"), host=saved.get("host"))
                store.set_manifest(status="interrupted")
        except BaseException as exc:
            store.close()  # and its lock
            if isinstance(exc, (KeyError, TypeError, ValueError)):
                raise ConfigError(f"{directory}: the manifest cannot be read: {exc}".replace("\n", " ")) from None
            raise
        return cls(directory, scenario, options, store)

    def tasks(self, item: Item) -> Iterator[tuple[str, Assignment | None]]:
        """The tasks of ``item``: every protocol, under each of its assignments in a tournament (``swap_sides``).
        A protocol that cannot assign the item's sides gives one task, which fails with the reason."""
        for spec in self.scenario.protocols:
            try:
                assignments = spec.assignments(len(self.scenario.models.players("debater")), len(item.answers))
            except ExecutionError:
                assignments = [None]
            for assignment in assignments:
                yield spec.name, assignment

    def total(self) -> int:
        """How many tasks the run has in all (items are counted by streaming them, not by holding them)."""
        return sum(
            sum(1 for _ in self.tasks(entry))
            for entry in items(self.scenario, self.options.limit)
            if isinstance(entry, Item)
        )

    async def execute(self, on_record: Callable[[Record, Tally], None] = lambda r, t: None) -> Tally:
        """Do every task without a record; returns the tally. Interrupted, it leaves the store consistent and the run
        marked interrupted, with ``results.jsonl`` written.

        Raises:
            NoSpace: the disk is full; the run stopped, to resume once there is space (if the disk was too full to
                mark it interrupted, it says running, and with its process gone it is taken for interrupted).
        """
        cache = open_cache(self.scenario, self.directory)
        executor = self._executor(cache)
        self.store.set_manifest(status="running", pid=os.getpid(), host=socket.gethostname())
        status = "interrupted"
        try:
            await self._schedule(executor.run, self.options.concurrency or self.scenario.concurrency, on_record)
            cache.commit()
            fit_after_run(self.store, self.scenario.jury)
            status = "finished"
        except Exception as exc:
            if no_space(exc):  # the store's own are NoSpace already: this one is the response cache's
                raise NoSpace(f"{cache.path}: {exc}") from None
            raise
        finally:
            try:
                self.store.set_manifest(
                    status=status, finished=datetime.now(timezone.utc).isoformat(), counts=self.store.counts()
                )
                self.store.export()
            except NoSpace as exc:
                if status == "finished":
                    raise
                log.warning("run.not_marked", directory=str(self.directory), status=status, error=str(exc))
            finally:
                await executor.aclose()
                cache.close()
        return self.tally

    def _executor(self, cache: ResponseCache) -> Executor:
        """A study in this process, or with ``--executor ray`` a pool of actors each holding one."""
        if self.options.executor == "ray":
            from agora.runner.ray import RayPool

            return RayPool(self.scenario, self.options, cache.path)
        from agora.runner.study import Study  # imported here: it brings LangGraph, which a reused run does without

        return Study(self.scenario, model=self.options.model, seed=self.options.seed, cache=cache)

    async def _schedule(self, run_task: RunTask, concurrency: int, on_record: Callable[[Record, Tally], None]) -> None:
        pending: set[asyncio.Task[Record]] = set()

        async def one(item: Item, protocol: str, assignment: Assignment | None) -> Record:
            start = time.perf_counter()
            label = assignment.label if assignment else None
            try:
                record = await run_task(item, protocol, assignment)
            except Exception as exc:  # a bug or a lost worker still ends in a record, never in a lost task
                if no_space(exc):  # not the task's failure: the run stops
                    raise
                log.error("task.failed", task=task_key(protocol, item.id, label), error=repr(exc))
                record = Record(
                    key=task_key(protocol, item.id, label),
                    item=item.id,
                    protocol=protocol,
                    assignment=label,
                    status="error",
                    error=f"{type(exc).__name__}: {exc}",
                    gold=item.gold,
                    seconds=round(time.perf_counter() - start, 4),
                )
            self.store.put(record)
            self.tally.add(record)
            return record

        def harvest(done: set[asyncio.Task[Record]]) -> None:
            # The callback runs in this task, not in the worker's: whatever it raises (Ctrl-C included)
            # unwinds through the finally clauses below and leaves the store consistent.
            failures = [exc for exc in (task.exception() for task in done) if exc is not None]  # each one retrieved
            if failures:
                raise failures[0]
            for task in done:
                on_record(task.result(), self.tally)

        try:
            for entry in items(self.scenario, self.options.limit):
                if isinstance(entry, Malformed):
                    self.store.add_malformed(entry)
                    self.tally.malformed += 1
                    continue
                self.store.add_item(entry)
                for protocol, assignment in self.tasks(entry):
                    if self.store.has(task_key(protocol, entry.id, assignment.label if assignment else None)):
                        self.tally.skipped += 1
                        continue
                    while len(pending) >= concurrency:
                        done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                        harvest(done)
                    pending.add(asyncio.create_task(one(entry, protocol, assignment)))
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                harvest(done)
        finally:
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    def close(self) -> None:
        """Close the store."""
        self.store.close()
