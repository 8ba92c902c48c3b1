"""One registry type for every extension point, and a user's entries used from a scenario file like built-ins."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import pytest
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from agora.aggregation.checks import CHECKS, Hearing, check, flagged
from agora.aggregation.voting import RULES, aggregator, tally
from agora.backends import BACKENDS
from agora.cli import main
from agora.errors import ConfigError
from agora.items import Item
from agora.loaders import LOADERS, Source, loader
from agora.protocols.kinds import PROTOCOLS, Cast, ProtocolSpec, protocol
from agora.protocols.stage import add_judge
from agora.registry import Registry
from agora.runner.store import RunStore
from agora.state import DebateState
from agora.types import Decision, Message, Turn, Verdict
from tests.fixtures import hashed
from tests.fixtures.registries import scope
from tests.fixtures.scenarios import write_scenario


@pytest.fixture
def scoped(monkeypatch: pytest.MonkeyPatch) -> None:
    scope(monkeypatch, BACKENDS, RULES, CHECKS, LOADERS, PROTOCOLS)


def test_lookup_hints_the_closest_name_or_lists_the_known_ones() -> None:
    colours = Registry[int]("colour")
    colours.add("green", 1)
    colours.register("red")(2)
    assert colours.get("red") == 2 and colours.names() == ["green", "red"] and "green" in colours
    with pytest.raises(ConfigError, match=r"^unknown colour 'gren' \(did you mean 'green'\?\)$"):
        colours.get("gren")
    with pytest.raises(ConfigError, match=r"^unknown colour 'blue' \(known: green, red\)$"):
        colours.get("blue")


def test_a_builtin_module_is_imported_on_its_first_lookup_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "shapes_registry.py").write_text(
        "from agora.registry import Registry\nSHAPES = Registry('shape', {'circle': 'shapes_circle'})\n"
    )
    (tmp_path / "shapes_circle.py").write_text("from shapes_registry import SHAPES\nSHAPES.add('circle', 'round')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("shapes_registry", "shapes_circle"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    import shapes_registry  # type: ignore[import-not-found]

    assert shapes_registry.SHAPES.names() == ["circle"] and "shapes_circle" not in sys.modules
    assert shapes_registry.SHAPES.get("circle") == "round" and "shapes_circle" in sys.modules


def test_naming_a_backend_kind_imports_no_provider_sdk() -> None:
    import subprocess

    code = (
        "import sys; from agora.backends import BACKENDS; names = BACKENDS.names(); "
        "print(names, sorted(m for m in ('openai', 'anthropic', 'llama_cpp') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "['anthropic', 'langchain', 'local', 'openai', 'scripted'] []"


# A user's extension points, each registered by its decorator, then named in a scenario file.


def numbers(path: Path, source: Source) -> Iterator[Item]:
    """Each line ``N``: is N even? (gold from the number)."""
    for line, text in enumerate(path.read_text().split(), 1):
        n = int(text)
        yield Item(
            id=f"n{n}", question=f"Is {n} even?", answers=("yes", "no"), gold=n % 2, source=f"{path.name}:{line}"
        )


def user_entries() -> None:
    """Register the user's loader, rule, check and protocol kind (``hashed:`` is a backend registered on import)."""
    loader("numbers")(numbers)

    @aggregator("first_word")
    def first_word(verdicts: Sequence[Verdict], n_answers: int, *, who: str) -> Decision:
        """The named juror's vote decides."""
        return tally([v for v in verdicts if v.judge == who], n_answers, "first_word")

    @check("stamp")
    class Stamp:
        async def live(self, hearing: Hearing, decision: Decision) -> Decision:
            return flagged(decision, f"stamped:{len(hearing.seen.transcript)}")

    @protocol("hinted")
    class HintedSpec(ProtocolSpec):
        """A hinter speaks once; the judging seat decides, seeing the hint."""

        kind: Literal["hinted"] = "hinted"
        name: str = "hinted"
        words: int = 20

        def build(self, cast: Cast, n_answers: int) -> CompiledStateGraph:
            speaker = cast.backend(cast.model("debater"))

            async def hint(state: DebateState) -> dict[str, Any]:
                prompt = f"In {self.words} words, a hint for: {state['question']}"
                reply = await speaker.complete([Message(role="user", content=prompt)], cast.settings(64))
                return {"transcript": [Turn(speaker="hinter", role="debater", round=1, text=reply.text)]}

            builder = StateGraph(DebateState)
            builder.add_node("hint", hint)
            add_judge(builder, cast.seat, sees_evidence=False)
            builder.add_edge(START, "hint")
            builder.add_edge("hint", "judge")
            builder.add_edge("judge", END)
            return builder.compile(name="hinted")


def user_scenario(tmp_path: Path, **changes: Any) -> Path:
    (tmp_path / "numbers.txt").write_text("1\n2\n3\n4\n")
    body = {
        "name": "user",
        "data": {"loader": "numbers", "path": "numbers.txt"},
        "models": {"default": "hashed:user"},
        "judges": [{"name": "first", "persona": "mainstream"}, {"name": "second", "persona": "skeptical"}],
        "jury": {"rule": "first_word", "params": {"who": "second"}, "checks": ["stamp"]},
        "protocols": [{"kind": "hinted", "words": 12}, {"kind": "direct_qa", "name": "blind"}],
    }
    return write_scenario(tmp_path, body | changes, name="user.yaml")


def test_a_users_protocol_rule_check_loader_and_backend_run_from_a_scenario_file(
    scoped: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGORA_CACHE_DIR", str(tmp_path / "cache"))
    hashed.reset()
    user_entries()
    path = user_scenario(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        main(["scenarios", str(path)])
    assert exit_.value.code == 0
    with pytest.raises(SystemExit) as exit_:
        main(["run", str(path), "--out", str(tmp_path / "run")])
    assert exit_.value.code == 0
    records = {r.key: r for r in RunStore(tmp_path / "run").records()}
    assert sorted(records) == sorted(f"{p}/n{n}" for p in ("hinted", "blind") for n in (1, 2, 3, 4))
    for key, record in records.items():
        assert record.status == "ok" and record.decision is not None
        second = next(v for v in record.verdicts if v.judge == "second")
        assert record.decision.outcome == second.choice  # the user's rule, with its scenario params
        turns = 1 if key.startswith("hinted/") else 0
        assert [t.speaker for t in record.transcript] == ["hinter"] * turns
        assert f"stamped:{turns}" in record.decision.flags  # the user's live check saw the hint
    hint = records["hinted/n2"].transcript[0].text
    assert hint.startswith("My argument")  # the user's graph called the scenario's backend
    dumped = json.loads(json.dumps(RunStore(tmp_path / "run").manifest()["scenario"]))
    assert dumped["protocols"][0] == {"kind": "hinted", "name": "hinted", "words": 12}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"protocols": [{"kind": "hintd"}]}, "protocols: unknown protocol kind 'hintd' (did you mean 'hinted'?)"),
        ({"protocols": [{"kind": "hinted", "words": "few"}]}, "protocols.0.words: Input should be a valid integer"),
        ({"protocols": [{"kind": "hinted", "turns": 2}]}, "protocols.0.turns: unknown field"),
        ({"jury": {"rule": "first_word"}}, "jury: rule 'first_word': missing a required argument: 'who'"),
        ({"jury": {"checks": ["stmp"]}}, "jury.checks: no live check 'stmp' (did you mean 'stamp'?)"),
        ({"data": {"loader": "numbrs", "path": "numbers.txt"}}, "data.0.loader: unknown loader 'numbrs'"),
    ],
)
def test_a_users_entries_are_validated_like_builtins(
    scoped: None, tmp_path: Path, capsys: pytest.CaptureFixture[str], change: dict, message: str
) -> None:
    user_entries()
    path = user_scenario(tmp_path, **change)
    with pytest.raises(SystemExit) as exit_:
        main(["run", str(path), "--out", str(tmp_path / "run")])
    assert exit_.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"agora: error: ConfigError: {path}: {message}"), lines
    assert not (tmp_path / "run").exists()
