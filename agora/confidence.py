"""Verbal confidence: the declared table from the words a judge may state to numbers on the 0-100 scale.

Judges state numbers; a judge whose schema asks for one of ``CONFIDENCE_WORDS`` instead has its word turned into
a number with ``confidence_from`` before the verdict is built.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from agora.errors import ConfigError
from agora.registry import hint

CONFIDENCE_WORDS: Mapping[str, float] = MappingProxyType(
    {"very low": 10.0, "low": 30.0, "medium": 50.0, "high": 70.0, "very high": 90.0, "certain": 100.0}
)


def confidence_from(value: float | str) -> float:
    """A 0-100 confidence from a number, or from a word of ``CONFIDENCE_WORDS`` (case and spacing ignored).

    Raises:
        ConfigError: a number outside 0-100, or a word not in the table.
    """
    if isinstance(value, str):
        word = " ".join(value.lower().split())
        if word not in CONFIDENCE_WORDS:
            raise ConfigError(f"unknown confidence word {value!r}{hint(word, CONFIDENCE_WORDS)}")
        return CONFIDENCE_WORDS[word]
    if not 0 <= value <= 100:
        raise ConfigError(f"confidence must be between 0 and 100, got {value}")
    return float(value)
