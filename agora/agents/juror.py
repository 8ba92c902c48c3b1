"""The juror: a judge seated in a jury, with a vote weight for weighted rules."""

from __future__ import annotations

from typing import Any

from agora.agents.judge import Judge


class Juror(Judge):
    """A judge inside a jury. ``weight`` counts in weighted voting rules."""

    role = "juror"

    def __init__(self, *args: Any, weight: float = 1.0, **kwargs: Any) -> None:
        kwargs.setdefault("name", "juror")
        super().__init__(*args, **kwargs)
        self.weight = weight
