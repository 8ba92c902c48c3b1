"""The Ray executor: the same tasks, run by Ray actors (one per CPU of the cluster), each holding its own ``Study``.

The driver keeps the run store and the scheduling; an actor only turns ``(item, protocol, assignment)`` into a
record, so a run on Ray gives the records a local run gives for the same scenario and seed.

The cluster is ``options.ray_address`` (``--ray-address``), else ``$RAY_ADDRESS``, else a local one started here
for the run and stopped after it. A cluster started elsewhere (``ray start``) is never joined by accident.
"""

from __future__ import annotations

import itertools
import os
import socket
from pathlib import Path
from typing import Any

from agora.errors import ConfigError
from agora.items import Item
from agora.log import get_logger
from agora.protocols.assignment import Assignment
from agora.runner.cache import ResponseCache
from agora.runner.options import Options
from agora.runner.record import Record
from agora.runner.study import Study
from agora.scenarios import Scenario

log = get_logger("agora.runner.ray")

CLOSE_TIMEOUT = 60.0


class Worker:
    """A Ray actor's state: the study built once, run for every task it is given."""

    def __init__(self, scenario: Scenario, model: str | None, seed: int | None, cache: str) -> None:
        self.study = Study(scenario, model=model, seed=seed, cache=ResponseCache(Path(cache)))
        self.tasks = 0

    async def run(self, item: Item, protocol: str, assignment: Assignment | None = None) -> Record:
        self.tasks += 1
        return await self.study.run(item, protocol, assignment)

    async def close(self) -> int:
        """Close the backends and the cache; returns how many tasks this actor ran."""
        await self.study.aclose()
        self.study.cache.close()
        return self.tasks


class RayPool:
    """Actors on a Ray cluster (a local one started here unless an address names one); see the module docstring.

    ``tasks`` holds, once closed, how many tasks each actor ran.
    """

    def __init__(self, scenario: Scenario, options: Options, cache: Path) -> None:
        try:
            import ray
        except ImportError:
            raise ConfigError("--executor ray needs Ray: pip install 'agora[ray]'") from None
        self.ray = ray
        self.started = not ray.is_initialized()
        if self.started:
            # "local" starts a cluster; None would join whichever `ray start` cluster /tmp/ray names
            address = options.ray_address or os.environ.get("RAY_ADDRESS") or "local"
            _check_reachable(address)
            try:
                ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
            except (ConnectionError, ValueError) as exc:
                raise ConfigError(
                    f"Ray cluster {address!r}: cannot start or join it: {exc}".replace("\n", " ")
                ) from None
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        actor = ray.remote(num_cpus=1)(Worker)
        self.actors: list[Any] = [actor.remote(scenario, options.model, options.seed, str(cache)) for _ in range(cpus)]
        self._next = itertools.cycle(self.actors)
        self.tasks: list[int] = []
        log.info("ray.started", actors=len(self.actors), started=self.started)

    async def run(self, item: Item, protocol: str, assignment: Assignment | None = None) -> Record:
        """The record of ``protocol`` on ``item`` (under ``assignment``), from the next actor in turn."""
        record: Record = await next(self._next).run.remote(item, protocol, assignment)
        return record

    async def aclose(self) -> None:
        """Close the actors' backends, stop them, and the cluster if this pool started it (even if closing failed)."""
        try:
            self.tasks = self.ray.get([a.close.remote() for a in self.actors], timeout=CLOSE_TIMEOUT)
            log.info("ray.closed", tasks=self.tasks)
        except Exception as exc:  # a dead actor must not keep the cluster up, nor hide the run's own error
            log.warning("ray.close_failed", error=repr(exc))
        finally:
            for a in self.actors:
                self.ray.kill(a)
            if self.started:
                self.ray.shutdown()


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail fast on a ``HOST:PORT`` nothing listens on: ``ray.init`` would retry it for minutes."""
    host, colon, port = address.rpartition(":")
    if "://" in address or not colon or not port.isdigit():
        return  # "local", "auto", ray://...: left to Ray
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise ConfigError(
            f"Ray cluster {address!r}: nothing answers there ({exc}); is `ray start --head` running?"
        ) from None
