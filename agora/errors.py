"""The error hierarchy: every failure agora raises is an ``AgoraError``.

``ConfigError`` is bad input (exit code 2 on the CLI); ``ExecutionError`` is a failure while running
(exit code 1). Messages are one line and say what and where.
"""

from __future__ import annotations


class AgoraError(Exception):
    """Root of every error agora raises."""

    exit_code = 1


class ConfigError(AgoraError):
    """Bad input: an unknown model spec, a malformed file, an invalid flag value."""

    exit_code = 2


class ExecutionError(AgoraError):
    """A failure while running: a backend that errs, output that cannot be parsed."""


class BackendError(ExecutionError):
    """A model backend failed to complete a call."""

    retryable = False


class RateLimited(BackendError):
    """The provider refused the call for rate limits; ``retry_after`` is its hint in seconds."""

    retryable = True

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class BackendTimeout(BackendError):
    """The call did not finish within its timeout."""

    retryable = True


class BackendUnavailable(BackendError):
    """The provider could not be reached or answered with a server error."""

    retryable = True


class VerdictParseError(ExecutionError):
    """The model's output could not be turned into the requested schema, even after re-asking."""

    def __init__(self, message: str, raw: str, attempts: int) -> None:
        super().__init__(message)
        self.raw = raw
        self.attempts = attempts
