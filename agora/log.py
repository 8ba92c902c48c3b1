"""Structured logging: one configuration for the package, with secrets redacted from every event."""

from __future__ import annotations

import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from agora.errors import ConfigError
from agora.redaction import redact

LEVELS = {"debug": 10, "info": 20, "warning": 30, "warn": 30, "error": 40, "exception": 40, "critical": 50}

_threshold = LEVELS["warning"]


def enabled(level: str) -> bool:
    """Whether events at ``level`` are written at the configured level: a call made thousands of times a second
    asks before it builds an event that would be dropped."""
    return LEVELS[level] >= _threshold


def _redact_event(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    return {k: redact(v) if isinstance(v, str) else v for k, v in event.items()}


def configure(level: str = "warning", json: bool = False) -> None:
    """Write events at ``level`` or above to stderr (as JSON lines with ``json``), secrets redacted.

    Level filtering is a processor, so ``structlog.testing.capture_logs`` still sees every event, except those of a
    hot path that asks ``enabled`` first.
    """
    global _threshold
    if level.lower() not in LEVELS:
        raise ConfigError(f"--log-level: unknown level {level!r} (use debug, info, warning or error)")
    threshold = _threshold = LEVELS[level.lower()]

    def drop_below(_: Any, method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        if LEVELS.get(method, 20) < threshold:
            raise structlog.DropEvent
        return event

    renderer: Any = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[
            drop_below,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            structlog.processors.format_exc_info,
            _redact_event,
            renderer,
        ],
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )


def get_logger(name: str) -> Any:
    """A structlog logger bound to ``name``."""
    return structlog.get_logger(name)


if not structlog.is_configured():
    configure()
