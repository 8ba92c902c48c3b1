"""Live-check flags as rates: how often the decisions of each protocol carry a flag of each check
(``position-inconsistent``, ``master-key:1``, ``injection:answer:0``, ``unverified-quotes:debater_b``, and the
thresholds' ``quorum``, ``margin``, ``low-confidence:<juror>``); a check is the flag's text before the first ``:``.
"""

from __future__ import annotations

from collections.abc import Iterable

from agora.metrics import bootstrap
from agora.metrics.types import FlagRate
from agora.runner.record import Record


def check_of(flag: str) -> str:
    """The check that raised ``flag``: ``injection`` for ``injection:answer:0``."""
    return flag.partition(":")[0]


def flag_rates(records: Iterable[Record], *, seed: int = 0) -> tuple[FlagRate, ...]:
    """Per protocol and check, in first-seen order: the decisions flagged by the check (once each, however many of
    its flags they carry) over the protocol's decisions, with its bootstrap interval."""
    decisions: dict[str, list[list[str]]] = {}
    for record in records:
        if record.status == "ok" and record.decision is not None:
            checks = list(dict.fromkeys(check_of(flag) for flag in record.decision.flags))
            decisions.setdefault(record.protocol, []).append(checks)
    rates = []
    for protocol, found in decisions.items():
        for check in dict.fromkeys(check for checks in found for check in checks):
            flagged = [float(check in checks) for checks in found]
            rates.append(FlagRate(protocol, check, int(sum(flagged)), bootstrap.mean(flagged, seed=seed)))
    return tuple(rates)
