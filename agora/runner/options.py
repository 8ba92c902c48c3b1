"""What a run is told besides its scenario (``Options``), and where its tasks execute (an ``Executor``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from agora.items import Item
from agora.protocols.assignment import Assignment
from agora.runner.record import Record

ExecutorKind = Literal["local", "ray"]


@dataclass(frozen=True)
class Options:
    """What the command line changes in a scenario (kept in the manifest, so that ``resume`` does the same)."""

    model: str | None = None
    limit: int | None = None
    seed: int | None = None
    concurrency: int | None = None
    executor: ExecutorKind = "local"
    ray_address: str | None = None


class Executor(Protocol):
    """Runs tasks: a study in this process (``Study``), or actors on a Ray cluster (``RayPool``)."""

    async def run(self, item: Item, protocol: str, assignment: Assignment | None = None) -> Record:
        """The record of ``protocol`` on ``item`` (under a tournament's ``assignment``); a failure is an error
        record."""
        ...

    async def aclose(self) -> None:
        """Release what running tasks needed (backends, actors)."""
        ...
