"""Keeps secrets out of logs, errors, reprs, run stores and reports: every known key is replaced by ``***``, and so
are the credentials a URL carries (``http://user:secret@host`` and tokens in its query, ``?api_key=...``)."""

from __future__ import annotations

import os
import re
from typing import Any

_SECRET_ENV = re.compile(r"(API_KEY|TOKEN|SECRET)$")
_USERINFO = re.compile(r"(?<=://)[^/?#@\s]+@")
_MASKED_QUERY = re.compile(r"[?&][^=&#\s]+=\*\*\*")
_QUERY_SECRET = re.compile(
    r"(?<=[?&])((?:api[_-]?key|key|token|access[_-]?token|auth|secret|password|sig|signature)=)[^&#\s]+", re.IGNORECASE
)
_registered: set[str] = set()


def register_secret(value: str | None) -> None:
    """Remember a secret so that ``redact`` hides it wherever it appears."""
    if value and len(value) >= 4:
        _registered.add(value)


def _secrets() -> set[str]:
    from_env = {v for k, v in os.environ.items() if _SECRET_ENV.search(k) and len(v) >= 4}
    return _registered | from_env


def redact(text: str) -> str:
    """Return ``text`` with every known secret (registered or in a ``*_API_KEY`` variable) and every URL credential
    masked."""
    return _redact(text, _secrets())


def _redact(text: str, secrets: set[str]) -> str:
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, "***")
    return _QUERY_SECRET.sub(r"\1***", _USERINFO.sub("***@", text))


def masked(text: str) -> bool:
    """Whether ``text`` holds a URL credential that ``redact`` masked."""
    return "://***@" in text or _MASKED_QUERY.search(text) is not None


def redact_data(data: Any) -> Any:
    """``data`` (JSON-like: dicts, lists, strings ...) with ``redact`` applied to every string in it."""
    return _redact_data(data, _secrets())  # the environment read once, not once a string


def _redact_data(data: Any, secrets: set[str]) -> Any:
    if isinstance(data, str):
        return _redact(data, secrets)
    if isinstance(data, dict):
        return {_redact_data(key, secrets): _redact_data(value, secrets) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [_redact_data(value, secrets) for value in data]
    return data
