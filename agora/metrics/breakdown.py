"""Accuracy broken down by what the loaders keep of each item (an EvalBiasBench bias, a TruthfulQA category, the
``meta`` columns of a JSONL or CSV source) and by data source: where a judge holds up and where it fails."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from agora.items import Item
from agora.metrics.accuracy import Outcome, accuracy
from agora.metrics.types import Breakdown

SOURCE = "data source"
"""The field of an item's data source, named as the scenario's ``data:`` entries are."""

MAX_VALUES = 50
"""A field with more values than this (an id, free text) is not broken down."""


def fields(items: Iterable[Item], sources: Sequence[str]) -> dict[str, dict[str, str]]:
    """Field → item id → value, for each field worth a breakdown: a metadata field whose values are text or numbers,
    and the data source (``SOURCE``: the one of ``sources`` that prefixes the item's id, ``name/id``). A field with
    a single value, which the headline already shows, or with more than ``MAX_VALUES`` is left out; an item without
    the field is left out of its breakdown."""
    found: dict[str, dict[str, str]] = {}
    for item in items:
        source = next((name for name in sources if item.id.startswith(f"{name}/")), None)
        if source is not None:
            found.setdefault(SOURCE, {})[item.id] = source
        for key, value in item.meta.items():
            if isinstance(value, str | int | float) and str(value).strip():
                found.setdefault(key, {})[item.id] = str(value)
    return {by: values for by, values in found.items() if 2 <= len(set(values.values())) <= MAX_VALUES}


def breakdown(
    outcomes: Mapping[tuple[str, str], Mapping[str, Outcome]],
    fields: Mapping[str, Mapping[str, str]],
    items: Mapping[str, str] | None = None,
    *,
    seed: int = 0,
) -> tuple[Breakdown, ...]:
    """For each field, each (protocol, judge) of ``outcomes`` (task → outcome) in its order and each value in the
    order the items show them: the accuracy on the tasks whose item has that value, with its bootstrap interval.

    ``items`` maps a task to its item (a tournament runs an item once per assignment); a task not in it is an item.
    """
    rows = []
    item_of = items or {}
    for by, values in fields.items():
        order = list(dict.fromkeys(values.values()))
        for (protocol, judge), seen in outcomes.items():
            groups: dict[str, list[Outcome]] = {}
            for key, outcome in seen.items():
                item = item_of.get(key, key)
                if item in values:
                    groups.setdefault(values[item], []).append(outcome)
            rows += [
                Breakdown(by, value, protocol, judge, accuracy(groups[value], seed=seed))
                for value in order
                if value in groups
            ]
    return tuple(rows)
