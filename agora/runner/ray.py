"""The Ray executor: the same tasks, run by Ray actors (one per CPU of the cluster), each holding its own ``Study``.

The driver keeps the run store and the scheduling; an actor only turns ``(item, protocol)`` into a record, so a
run on Ray gives the records a local run gives for the same scenario and seed.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agora.errors import ConfigError
from agora.items import Item
from agora.runner.cache import ResponseCache
from agora.runner.record import Record
from agora.runner.study import Study
from agora.scenarios import Scenario

if TYPE_CHECKING:
    from agora.runner.run import Options


class Worker:
    """A Ray actor's state: the study built once, run for every task it is given."""

    def __init__(self, scenario: Scenario, model: str | None, seed: int | None, cache: str) -> None:
        self.study = Study(scenario, model=model, seed=seed, cache=ResponseCache(Path(cache)))

    async def run(self, item: Item, protocol: str) -> Record:
        return await self.study.run(item, protocol)

    async def close(self) -> None:
        await self.study.aclose()
        self.study.cache.close()


class RayPool:
    """Actors on a Ray cluster (a local one started here unless ``options.ray_address`` names one)."""

    def __init__(self, scenario: Scenario, options: Options, cache: Path) -> None:
        try:
            import ray
        except ImportError:
            raise ConfigError("--executor ray needs Ray: pip install 'agora[ray]'") from None
        self.ray = ray
        self.started = not ray.is_initialized()
        if self.started:
            ray.init(
                address=options.ray_address,
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
            )
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        actor = ray.remote(num_cpus=1)(Worker)
        self.actors: list[Any] = [actor.remote(scenario, options.model, options.seed, str(cache)) for _ in range(cpus)]
        self._next = itertools.cycle(self.actors)

    async def run(self, item: Item, protocol: str) -> Record:
        """The record of ``protocol`` on ``item``, from the next actor in turn."""
        record: Record = await next(self._next).run.remote(item, protocol)
        return record

    def close(self) -> None:
        """Close the actors' backends, stop them, and the cluster if this pool started it."""
        self.ray.get([a.close.remote() for a in self.actors])
        for a in self.actors:
            self.ray.kill(a)
        if self.started:
            self.ray.shutdown()
