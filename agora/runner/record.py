"""The record of one task (an item under a protocol): what the run store keeps and reports read."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from agora.types import Decision, Turn, Verdict

Status = Literal["ok", "error"]


def task_key(protocol: str, item: str, assignment: str | None = None) -> str:
    """The key of the task that runs ``protocol`` on item ``item`` (under ``assignment``, a tournament's
    ``Assignment.label``); unique in a run."""
    return f"{protocol}/{item}" + (f"@{assignment}" if assignment else "")


class Record(BaseModel):
    """The outcome of one task: a result, or an explicit error saying why there is none.

    Attributes:
        key: ``protocol/item``, or ``protocol/item@assignment`` for a task of a tournament.
        assignment: the tournament's assignment of the task (``Assignment.label``, as ``0A-1B``), else ``None``.
        gold: index of the correct answer (copied from the item, so that metrics need no join).
        decision: the judging seat's decision (``None`` for probes and errors).
        sides: speaker → the answer it argued.
        models: in a tournament, speaker → the debater model that played it (empty otherwise).
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
    assignment: str | None = None
    models: dict[str, str] = Field(default_factory=dict)
    probes: dict[str, dict[str, bool | None]] = Field(default_factory=dict)
    usage: dict[str, int] = Field(default_factory=dict)
    seconds: float = 0.0
