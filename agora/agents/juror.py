"""The juror: a judge seated in a jury, with a vote weight for weighted rules and a seed of its own."""

from __future__ import annotations

import hashlib
from typing import Any

from agora.agents.judge import Judge


def juror_seed(seed: int | None, name: str) -> int | None:
    """The sampling seed of juror ``name`` in a run seeded with ``seed`` (None stays None): a stable hash of both,
    so that K jurors of one model and persona draw K samples, and a rerun draws the same ones.
    """
    if seed is None:
        return None
    digest = hashlib.sha256(f"{seed}\x1f{name}".encode()).digest()
    return int.from_bytes(digest[:4], "big") >> 1


class Juror(Judge):
    """A judge inside a jury. ``weight`` counts in weighted voting rules."""

    role = "juror"

    def __init__(self, *args: Any, weight: float = 1.0, **kwargs: Any) -> None:
        kwargs.setdefault("name", "juror")
        super().__init__(*args, **kwargs)
        self.weight = weight
