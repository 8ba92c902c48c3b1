"""Structured logging: one configuration for the package, with secrets redacted from every event."""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

from agora.redaction import redact


def _redact_event(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    return {k: redact(v) if isinstance(v, str) else v for k, v in event.items()}


def _level(name: str) -> int:
    level = logging.getLevelName(name.upper())
    if not isinstance(level, int):
        from agora.errors import ConfigError

        raise ConfigError(f"--log-level: unknown level {name!r} (use debug, info, warning or error)")
    return level


def configure(level: str = "warning", json: bool = False) -> None:
    """Configure structlog to write events at ``level`` or above to stderr, secrets redacted."""
    renderer: Any = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            structlog.processors.format_exc_info,
            _redact_event,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_level(level)),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )


def get_logger(name: str) -> Any:
    """A structlog logger bound to ``name``."""
    return structlog.get_logger(name)
