"""One registry type for every extension point: backends, voting rules, checks, loaders and protocol kinds.

A registry maps a name to what it names. Built-ins are registered by importing their module, which happens on
the first lookup (so naming a backend does not import its SDK); a user's entry registers with the decorator and
is then as usable as a built-in one. A name that is not known fails with the closest known one as a hint::

    RULES = Registry[Rule]("rule")

    @RULES.register("majority")
    def majority(verdicts, n_answers): ...

    RULES.get("majorty")  # ConfigError: unknown rule 'majorty' (did you mean 'majority'?)
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterable, Mapping
from typing import Generic, TypeVar

from agora.errors import ConfigError

T = TypeVar("T")
E = TypeVar("E")


class Registry(Generic[T]):
    """Named entries of one kind.

    Args:
        what: what an entry is, for messages (``"rule"``, ``"backend"``).
        builtins: the module that registers each built-in name, imported when that name is first looked up.
    """

    def __init__(self, what: str, builtins: Mapping[str, str] | None = None) -> None:
        self.what = what
        self._builtins = dict(builtins or {})
        self._entries: dict[str, T] = {}

    def add(self, name: str, entry: T) -> T:
        """Register ``entry`` under ``name`` (replacing an entry of that name) and return it."""
        self._entries[name] = entry
        return entry

    def register(self, name: str) -> Callable[[E], E]:
        """A decorator that registers what it decorates under ``name``, unchanged."""

        def decorate(entry: E) -> E:
            self.add(name, entry)  # type: ignore[arg-type]  # E is T: the decorator is typed per registry
            return entry

        return decorate

    def get(self, name: str) -> T:
        """The entry registered under ``name``.

        Raises:
            ConfigError: ``unknown WHAT 'name'`` with the closest known name, or the known ones.
        """
        if name not in self._entries and name in self._builtins:
            importlib.import_module(self._builtins[name])
        if name not in self._entries:
            raise ConfigError(f"unknown {self.what} {name!r}{hint(name, self.names())}")
        return self._entries[name]

    def names(self) -> list[str]:
        """Every name known, built-in (imported or not) and registered, sorted."""
        return sorted(set(self._entries) | set(self._builtins))

    def items(self) -> list[tuple[str, T]]:
        """Every ``(name, entry)``, built-ins imported, sorted by name."""
        return [(name, self.get(name)) for name in self.names()]

    def __contains__(self, name: object) -> bool:
        return name in self._entries or name in self._builtins


def hint(name: str, known: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``known``, else `` (known: a, b, c)`` in the order given."""
    known = list(known)
    close = difflib.get_close_matches(name, known, n=1)
    return f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(known)})"
