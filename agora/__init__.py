"""agora: multi-agent debate and jury orchestration for scalable oversight."""

from agora.agents.judge import Judge
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
from agora.scenarios import Scenario, load_scenario
from agora.structured import ask_structured
from agora.types import Completion, Message, Settings, Usage, Verdict

__all__ = [
    "AgoraError",
    "Backend",
    "BackendError",
    "BackendTimeout",
    "BackendUnavailable",
    "Completion",
    "ConfigError",
    "ExecutionError",
    "Item",
    "Judge",
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
