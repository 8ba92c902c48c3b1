"""Fencing untrusted text (answers, agents' turns) as data, so that instructions inside it stay data."""

from __future__ import annotations

import re

FENCE_OPEN = "<data>"
FENCE_CLOSE = "</data>"
# The ``<`` of anything that could pass for a fence marker (``</data>``, ``< DATA x>``) or a chat-template token.
_FAKE_DELIMITER = re.compile(r"<(?=\s*/?\s*data\b|\|)", re.IGNORECASE)


def fence(text: str) -> str:
    """``text`` wrapped in ``<data>…</data>`` as untrusted data; fake markers and chat tokens in it are escaped."""
    return f"{FENCE_OPEN}\n{_FAKE_DELIMITER.sub('&lt;', text)}\n{FENCE_CLOSE}"
