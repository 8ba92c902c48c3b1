"""Maps the exceptions of the official provider SDKs (same shape in ``openai`` and ``anthropic``)."""

from __future__ import annotations

from types import ModuleType

from agora.errors import (
    AgoraError,
    BackendError,
    BackendTimeout,
    BackendUnavailable,
    ConfigError,
    RateLimited,
)
from agora.redaction import redact


def _retry_after(exc: Exception) -> float | None:
    response = getattr(exc, "response", None)
    value = response.headers.get("retry-after") if response is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def sdk_error(exc: Exception, spec: str, sdk: ModuleType) -> AgoraError:
    """The agora error for an exception raised by ``sdk`` (the ``openai`` or ``anthropic`` module)."""
    status = getattr(exc, "status_code", None)
    detail = redact(" ".join(str(getattr(exc, "message", exc)).split()))
    where = f"{spec}: HTTP {status}: {detail}" if status else f"{spec}: {detail}"
    if isinstance(exc, sdk.APITimeoutError):
        return BackendTimeout(f"{spec}: request timed out")
    if isinstance(exc, sdk.APIConnectionError):
        return BackendUnavailable(f"{spec}: cannot connect: {detail}")
    if isinstance(exc, sdk.RateLimitError):
        return RateLimited(where, retry_after=_retry_after(exc))
    if isinstance(exc, (sdk.AuthenticationError, sdk.PermissionDeniedError)):
        return ConfigError(f"{where} (check the API key)")
    if isinstance(exc, sdk.APIStatusError) and status is not None and (status >= 500 or status == 529):
        return BackendUnavailable(where)
    return BackendError(where)
