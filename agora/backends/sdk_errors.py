"""Maps HTTP error replies and the exceptions of the official provider SDKs (same shape in ``openai`` and
``anthropic``) to agora errors."""

from __future__ import annotations

from types import ModuleType

from agora.errors import AgoraError, BackendError, BackendTimeout, BackendUnavailable, ConfigError, RateLimited
from agora.redaction import redact
from agora.types import OutputMode

FORMAT_FALLBACK: dict[OutputMode, OutputMode] = {"json_schema": "json_object", "json_object": "text"}
"""The output mode to ask for next when a server refuses one."""


def refuses_format(status: int | None, message: str) -> bool:
    """Whether an HTTP error reads as the server refusing the response format (not as a transient failure)."""
    if status in (400, 422):
        return True
    message = message.lower()
    return status in (500, 501) and ("json" in message or "response_format" in message)


def status_error(spec: str, status: int, message: str, retry_after: float | None = None) -> AgoraError:
    """The agora error for an HTTP ``status`` reply: rate limited, a bad key, the server's fault, or the call's."""
    where = f"{spec}: HTTP {status}: {redact(' '.join(message.split()))}"
    if status == 429:
        return RateLimited(where, retry_after=retry_after)
    if status in (401, 403):
        return ConfigError(f"{where} (check the API key)")
    if status >= 500:
        return BackendUnavailable(where)
    return BackendError(where)


def retry_after(value: str | None) -> float | None:
    """A ``Retry-After`` header in seconds (None when absent or not a number)."""
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def sdk_error(exc: Exception, spec: str, sdk: ModuleType) -> AgoraError:
    """The agora error for an exception raised by ``sdk`` (the ``openai`` or ``anthropic`` module)."""
    detail = redact(" ".join(str(getattr(exc, "message", exc)).split()))
    if isinstance(exc, sdk.APITimeoutError):
        return BackendTimeout(f"{spec}: request timed out")
    if isinstance(exc, sdk.APIConnectionError):
        return BackendUnavailable(f"{spec}: cannot connect: {detail}")
    if isinstance(exc, sdk.APIStatusError):
        return status_error(spec, exc.status_code, detail, retry_after(exc.response.headers.get("retry-after")))
    return BackendError(f"{spec}: {detail}")
