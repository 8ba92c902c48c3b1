"""agora: multi-agent debate and jury orchestration for scalable oversight.

The public names are imported on first use (PEP 562), so ``import agora`` and the command line start without
loading LangGraph, LangChain or a provider SDK.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agora.agents.human import HumanJudge
    from agora.agents.judge import Judge
    from agora.agents.juror import Juror
    from agora.backends import Backend, RetryPolicy, backend, resolve_model
    from agora.errors import (
        AgoraError,
        BackendError,
        BackendTimeout,
        BackendUnavailable,
        ConfigError,
        ExecutionError,
        RateLimited,
        VerdictParseError,
    )
    from agora.items import Item
    from agora.personas import Persona, load_persona
    from agora.protocols.jury import Jury
    from agora.scenarios import Scenario, load_scenario
    from agora.structured import ask_structured
    from agora.types import Completion, Message, Settings, Usage, Verdict

_HOMES = {
    "agora.agents.human": ("HumanJudge",),
    "agora.agents.judge": ("Judge",),
    "agora.agents.juror": ("Juror",),
    "agora.backends": ("Backend", "RetryPolicy", "backend", "resolve_model"),
    "agora.errors": (
        "AgoraError",
        "BackendError",
        "BackendTimeout",
        "BackendUnavailable",
        "ConfigError",
        "ExecutionError",
        "RateLimited",
        "VerdictParseError",
    ),
    "agora.items": ("Item",),
    "agora.personas": ("Persona", "load_persona"),
    "agora.protocols.jury": ("Jury",),
    "agora.scenarios": ("Scenario", "load_scenario"),
    "agora.structured": ("ask_structured",),
    "agora.types": ("Completion", "Message", "Settings", "Usage", "Verdict"),
}
_HOME = {name: module for module, names in _HOMES.items() for name in names}

__all__ = [
    "AgoraError",
    "Backend",
    "BackendError",
    "BackendTimeout",
    "BackendUnavailable",
    "Completion",
    "ConfigError",
    "ExecutionError",
    "HumanJudge",
    "Item",
    "Judge",
    "Juror",
    "Jury",
    "Message",
    "Persona",
    "RateLimited",
    "RetryPolicy",
    "Scenario",
    "Settings",
    "Usage",
    "Verdict",
    "VerdictParseError",
    "ask_structured",
    "backend",
    "load_persona",
    "load_scenario",
    "resolve_model",
]


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'agora' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOME[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
