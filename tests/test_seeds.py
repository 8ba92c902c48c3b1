"""K samples stay K samples: each juror samples with its own seed, derived from the run's seed and its name."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from agora.agents.juror import juror_seed
from agora.backends.base import BACKENDS, Backend, backend
from agora.cli import main
from agora.runner.cache import ResponseCache
from agora.runner.options import Options
from agora.runner.run import Run
from agora.runner.study import Study
from agora.scenarios import load_scenario
from agora.types import Completion, Message, OutputSchema, Settings
from tests.fixtures.registries import scope
from tests.fixtures.scenarios import numbered_rows, write_scenario

SEED = 11
NAMES = ("first", "second", "third")
seen: list[int | None] = []
"""The seed of every call the seeded backend received."""


class SeededBackend(Backend):
    """A judge whose verdict is a function of the sampling seed only: the same prompt, another seed, another verdict."""

    async def complete(
        self, messages: Sequence[Message], settings: Settings, schema: OutputSchema | None = None
    ) -> Completion:
        seen.append(settings.seed)
        return Completion(text=json.dumps(reply(settings.seed)), model=self.model)


def reply(seed: int | None) -> dict[str, object]:
    assert seed is not None
    return {"reasoning": f"seed {seed}", "answer": "AB"[seed % 2], "confidence": 50 + seed % 51}


@pytest.fixture(autouse=True)
def seeded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scope(monkeypatch, BACKENDS)
    backend("seeded")(SeededBackend)
    seen.clear()
    monkeypatch.setenv("AGORA_CACHE_DIR", str(tmp_path / "cache"))


def scenario(tmp_path: Path) -> Path:
    body = {
        "name": "samples",
        "seed": SEED,
        "data": {"loader": "jsonl", "path": "items.jsonl"},
        "models": {"default": "seeded:m"},
        "judges": [{"name": name, "persona": "skeptical"} for name in NAMES],
        "protocols": [{"kind": "direct_qa"}],
        "settings": {"temperature": 0.7},
    }
    return write_scenario(tmp_path, body, numbered_rows(2))


def verdicts_of(path: Path, out: Path) -> dict[str, list[tuple[str, int | None, float, str]]]:
    the_run = Run.create(load_scenario(path), Options(), out, path)
    asyncio.run(the_run.execute())
    records = {r.key: r for r in the_run.store.records()}
    the_run.close()
    return {key: [(v.judge, v.choice, v.confidence, v.reasoning) for v in r.verdicts] for key, r in records.items()}


def test_the_derived_seed_is_stable_and_differs_by_name_and_run_seed() -> None:
    assert juror_seed(SEED, "first") == juror_seed(SEED, "first")
    assert len({juror_seed(SEED, name) for name in NAMES}) == 3
    assert juror_seed(SEED, "first") != juror_seed(SEED + 1, "first")
    assert juror_seed(None, "first") is None
    assert juror_seed(SEED, "first") == 1047535501  # a stable hash, never Python's salted hash()


def test_jurors_of_one_model_and_persona_get_their_own_seeds(tmp_path: Path) -> None:
    study = Study(load_scenario(scenario(tmp_path)), cache=ResponseCache(tmp_path / "cache.sqlite"))
    seeds = [j.settings.seed for j in study.seat.jurors]  # type: ignore[attr-defined]
    assert seeds == [juror_seed(SEED, name) for name in NAMES]
    assert len(set(seeds)) == 3


def test_three_samples_of_one_judge_give_three_verdicts_and_a_rerun_records_the_same(tmp_path: Path) -> None:
    path = scenario(tmp_path)
    first = verdicts_of(path, tmp_path / "one")
    expected = [juror_seed(SEED, name) for name in NAMES]
    assert sorted(seen) == sorted(expected * 2)  # each juror's own seed reached the backend
    for verdicts in first.values():
        assert verdicts == [
            (name, "AB".index(reply(seed)["answer"]), reply(seed)["confidence"], f"seed {seed}")  # type: ignore[arg-type]
            for name, seed in zip(NAMES, expected, strict=True)
        ]
        assert len({v[1:] for v in verdicts}) == 3 and len({v[1] for v in verdicts}) == 2
    calls = len(seen)
    assert verdicts_of(path, tmp_path / "two") == first
    assert len(seen) == calls  # all from the cache


def test_agora_jury_derives_each_jurors_seed_the_same_way(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["jury", "--model", "seeded:m", "--jurors", "3", "--seed", str(SEED), "--json"]
    with pytest.raises(SystemExit) as exit_:
        main([*args, "--question", "Which?", "--answer", "this", "--answer", "that"])
    assert exit_.value.code == 0
    verdicts = json.loads(capsys.readouterr().out)["verdicts"]
    names = [f"juror_{i}" for i in (1, 2, 3)]
    assert [(v["judge"], v["reasoning"]) for v in verdicts] == [(n, f"seed {juror_seed(SEED, n)}") for n in names]
