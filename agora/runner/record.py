"""The record of one task (an item under a protocol): what the run store keeps and reports read."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from agora.types import Decision, Turn, Verdict

Status = Literal["ok", "error"]


def task_key(protocol: str, item: str) -> str:
    """The key of the task that runs ``protocol`` on item ``item``; unique in a run."""
    return f"{protocol}/{item}"


class Record(BaseModel):
    """The outcome of one task: a result, or an explicit error saying why there is none.

    Attributes:
        key: ``protocol/item``.
        gold: index of the correct answer (copied from the item, so that metrics need no join).
        decision: the judging seat's decision (``None`` for probes and errors).
        verdicts: every judge's verdict, the persona of each on it.
        probes: for a probes task, check → judge → whether the judge fell for it (``None``: the probe did not apply).
        usage: calls, cached, retries, failed, prompt_tokens, completion_tokens of this task.
        seconds: wall time of the task.
    """

    model_config = ConfigDict(frozen=True)

    key: str
    item: str
    protocol: str
    status: Status
    error: str | None = None
    gold: int | None = None
    decision: Decision | None = None
    verdicts: list[Verdict] = Field(default_factory=list)
    transcript: list[Turn] = Field(default_factory=list)
    sides: dict[str, int] = Field(default_factory=dict)
    probes: dict[str, dict[str, bool | None]] = Field(default_factory=dict)
    usage: dict[str, int] = Field(default_factory=dict)
    seconds: float = 0.0
