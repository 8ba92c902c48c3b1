"""The judging-method core: self-consistency samples, both answer orders (swap), reference answers; their CLI flags
and scenario keys, and their use inside a jury with personas and thresholds.

On the scripted backend (the prompts and settings each call received, the arithmetic of the consensus), a backend
giving token log-probabilities (swap's averaged probabilities), and the fake OpenAI-compatible server spoken to by
the official client (``agora judge --samples 3 --swap`` end to end).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from agora.agents.judge import Judge
from agora.agents.juror import Juror
from agora.aggregation.thresholds import Thresholds
from agora.backends import Backend
from agora.backends.scripted import ScriptedBackend
from agora.cli import main
from agora.errors import ConfigError, VerdictParseError
from agora.fence import fence
from agora.items import Item, Malformed
from agora.loaders import Source, read
from agora.protocols import Jury, direct_qa
from agora.state import View
from agora.types import Completion, Message, OutputSchema, Settings, TokenLogprob, Turn, Usage
from tests.fixtures.fake_server import FakeServer
from tests.fixtures.scenarios import write_scenario

QUESTION = "What is the capital of France?"
ANSWERS = ("Paris", "Berlin")
REFERENCE = "Paris has been the capital of France since 987."


def reply(answer: str, confidence: int = 70, reasoning: str = "It is right.") -> str:
    """A judge's reply choosing ``answer`` (a letter)."""
    return json.dumps({"reasoning": reasoning, "answer": answer, "confidence": confidence})


def prompt(messages: Sequence[Message]) -> str:
    """The user message of a judge's prompt."""
    return next(m.content for m in messages if m.role == "user")


def straight(messages: Sequence[Message]) -> bool:
    """Whether a judge's prompt shows the answers in their original order (Paris first)."""
    return prompt(messages).index(fence(ANSWERS[0])) < prompt(messages).index(fence(ANSWERS[1]))


def by_order(in_order: Sequence[str], reversed_: Sequence[str]) -> Callable[[Sequence[Message]], str]:
    """Scripted replies for each answer order: the n-th call showing that order gets its n-th reply."""
    queues = {True: list(in_order), False: list(reversed_)}
    return lambda messages: queues[straight(messages)].pop(0)


def usage_of(model: ScriptedBackend, replies: Sequence[str]) -> Usage:
    """What the scripted backend billed for its calls, given the replies it sent (it counts words)."""
    prompt_words = sum(len(m.content.split()) for call in model.calls for m in call.messages)
    return Usage(prompt_tokens=prompt_words, completion_tokens=sum(len(r.split()) for r in replies))


def recorded(server: FakeServer) -> list[dict[str, Any]]:
    """The body of every chat request ``server`` receives from now on (its seed and temperature among them)."""
    bodies: list[dict[str, Any]] = []

    def record(body: dict[str, Any]) -> float:
        bodies.append(body)
        return 0.0

    server.latency = record
    return bodies


# Samples.


async def test_samples_are_k_calls_with_distinct_seeds_and_the_majority_wins() -> None:
    replies = [reply("A", 80), reply("B", 90), reply("A", 60), reply("B", 95), reply("A", 70)]
    model = ScriptedBackend(replies)
    judge = Judge(model, settings=Settings(seed=11, temperature=0.7), samples=5)
    verdict = await judge.judge(QUESTION, ANSWERS)
    seeds = [call.settings.seed for call in model.calls]
    assert len(seeds) == 5 and len(set(seeds)) == 5 and seeds[0] == 11
    assert {call.settings.temperature for call in model.calls} == {0.7}
    assert len({call.messages for call in model.calls}) == 1  # the same prompt, only the seed differs
    assert (verdict.choice, verdict.abstained, verdict.confidence) == (0, False, 60.0)  # 3 of 5 chose A
    assert [r.choice for r in verdict.readings] == [0, 1, 0, 1, 0]
    assert [r.confidence for r in verdict.readings] == [80, 90, 60, 95, 70]
    assert verdict.usage == usage_of(model, replies) and verdict.attempts == 5
    assert verdict.reasoning == "It is right." and verdict.flags == []


async def test_sample_seeds_are_stable_and_exist_without_a_judge_seed() -> None:
    seeds = []
    for _ in range(2):
        model = ScriptedBackend(lambda messages: reply("A"))
        await Judge(model, samples=3).judge(QUESTION, ANSWERS)
        seeds.append([call.settings.seed for call in model.calls])
    assert seeds[0] == seeds[1] and None not in seeds[0] and len(set(seeds[0])) == 3
    model = ScriptedBackend(lambda messages: reply("A"))
    await Judge(model, settings=Settings(seed=11)).judge(QUESTION, ANSWERS)
    assert [call.settings.seed for call in model.calls] == [11]  # one sample is the plain reading


async def test_a_tie_between_samples_is_undecided_and_flagged() -> None:
    model = ScriptedBackend([reply("A", 90), reply("B", 90), reply("B", 80), reply("A", 70)])
    verdict = await Judge(model, samples=4).judge(QUESTION, ANSWERS)
    assert (verdict.choice, verdict.abstained, verdict.confidence) == (None, True, 0.0)
    assert verdict.flags == ["samples-tied"] and len(verdict.readings) == 4


async def test_a_sample_that_never_parses_is_a_reading_with_its_error_and_counts() -> None:
    replies = [reply("B", 90), "not json", "still not json", reply("B", 80)]
    model = ScriptedBackend(replies)
    verdict = await Judge(model, samples=3, max_reasks=1).judge(QUESTION, ANSWERS)
    assert len(model.calls) == 4
    assert [r.choice for r in verdict.readings] == [1, None, 1]
    failed = verdict.readings[1]
    assert failed.abstained and failed.error is not None and failed.error.startswith("VerdictParseError")
    assert failed.attempts == 2 and verdict.attempts == 4  # the re-ask of the failed sample is counted
    assert verdict.choice == 1 and math.isclose(verdict.confidence, 200 / 3)  # 2 of 3 samples, not 2 of 2
    assert verdict.flags == ["1 of 3 samples failed"]


async def test_an_undecided_consensus_is_not_a_failed_one() -> None:
    model = ScriptedBackend(["not json", reply("A"), reply("B")])
    verdict = await Judge(model, "skeptical", samples=3, max_reasks=0).judge(QUESTION, ANSWERS)
    assert verdict.choice is None and verdict.flags == ["1 of 3 samples failed", "samples-tied"]
    assert verdict.error is None and verdict.persona == "skeptical"  # a jury replaces only a juror that failed
    assert verdict.readings[0].error is not None


async def test_when_every_sample_fails_the_judge_raises() -> None:
    model = ScriptedBackend(lambda messages: "not json")
    with pytest.raises(VerdictParseError):
        await Judge(model, samples=3, max_reasks=0).judge(QUESTION, ANSWERS)
    assert len(model.calls) == 3


def test_fewer_than_one_sample_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"^--samples must be at least 1, got 0$"):
        Judge(ScriptedBackend([]), samples=0)


# Swap.


async def test_swap_sends_both_orders_and_keeps_a_consistent_choice() -> None:
    model = ScriptedBackend(by_order([reply("A", 80)], [reply("B", 60)]))  # Paris both times
    verdict = await Judge(model, swap=True).judge(QUESTION, ANSWERS)
    first, second = (prompt(call.messages) for call in model.calls)
    assert f"Answer A:\n{fence('Paris')}\n\nAnswer B:\n{fence('Berlin')}" in first
    assert f"Answer A:\n{fence('Berlin')}\n\nAnswer B:\n{fence('Paris')}" in second
    assert (verdict.choice, verdict.abstained, verdict.confidence) == (0, False, 70.0)
    assert [r.choice for r in verdict.readings] == [0, 0]  # the swapped reading in the original order
    assert verdict.flags == [] and verdict.attempts == 2


async def test_swap_with_inconsistent_choices_is_undecided() -> None:
    model = ScriptedBackend(lambda messages: reply("A", 90))  # always the first answer shown
    verdict = await Judge(model, swap=True).judge(QUESTION, ANSWERS)
    assert (verdict.choice, verdict.abstained, verdict.confidence) == (None, True, 0.0)
    assert verdict.flags == ["position-inconsistent"]
    assert [r.choice for r in verdict.readings] == [0, 1]


async def test_swap_relabels_the_transcript_for_the_reversed_order() -> None:
    turns = (
        Turn(speaker="debater_a", role="debater", round=1, side=0, text="Answer A is right and Answer B is not."),
        Turn(speaker="debater_b", role="debater", round=1, side=1, text="Answer B, surely; Answer Q is no answer."),
        Turn(speaker="critic", role="judge", round=2, text="Answers A and B differ; Answers A, B are short. A Bee."),
    )
    model = ScriptedBackend(by_order([reply("A")], [reply("B")]))
    await Judge(model, swap=True).decide(View(question=QUESTION, answers=ANSWERS, transcript=turns))
    first, second = (prompt(call.messages) for call in model.calls)
    assert "debater_a (debater, arguing for Answer A):\n<data>\nAnswer A is right and Answer B is not." in first
    assert "debater_a (debater, arguing for Answer B):\n<data>\nAnswer B is right and Answer A is not." in second
    assert "debater_b (debater, arguing for Answer A):\n<data>\nAnswer A, surely; Answer Q is no answer." in second
    assert "critic (judge):\n<data>\nAnswers B and A differ; Answers B, A are short. A Bee." in second


TOKENS_BEFORE = '{"reasoning": "because", "answer": "'


class Probable(Backend):
    """Replies choosing the first letter of each ``(letter, p)`` in turn, with token log-probabilities that give
    it probability ``p`` against the other letter of a pair."""

    kind = "probable"

    def __init__(self, script: Sequence[tuple[str, float]]) -> None:
        super().__init__("m")
        self.script = list(script)
        self.calls: list[tuple[Sequence[Message], Settings]] = []

    async def complete(
        self, messages: Sequence[Message], settings: Settings, schema: OutputSchema | None = None
    ) -> Completion:
        self.calls.append((messages, settings))
        letter, p = self.script[len(self.calls) - 1]
        other = "B" if letter == "A" else "A"
        tail = '", "confidence": 70}'
        tokens = (
            TokenLogprob(token=TOKENS_BEFORE, logprob=-0.01),
            TokenLogprob(token=letter, logprob=math.log(p), top={letter: math.log(p), other: math.log(1 - p)}),
            TokenLogprob(token=tail, logprob=-0.01),
        )
        return Completion(text=TOKENS_BEFORE + letter + tail, model="m", logprobs=tokens if settings.logprobs else ())


async def test_swap_averages_probabilities_and_chooses_the_better_answer() -> None:
    # In order: A (Paris) at 0.9; reversed: A (Berlin) at 0.6, so Paris at 0.4. Paris: (0.9 + 0.4) / 2 = 0.65.
    model = Probable([("A", 0.9), ("A", 0.6)])
    verdict = await Judge(model, logprobs=True, swap=True).judge(QUESTION, ANSWERS)
    assert all(settings.logprobs for _, settings in model.calls) and len(model.calls) == 2
    assert verdict.choice == 0 and not verdict.abstained and verdict.flags == []
    assert math.isclose(verdict.probability or 0, 0.65)
    assert [r.choice for r in verdict.readings] == [0, 1]
    assert [round(r.probability or 0, 6) for r in verdict.readings] == [0.9, 0.6]


async def test_swap_probabilities_can_choose_the_second_answer() -> None:
    # In order: A (Paris) at 0.55; reversed: A (Berlin) at 0.95. Berlin: (0.45 + 0.95) / 2 = 0.7.
    model = Probable([("A", 0.55), ("A", 0.95)])
    verdict = await Judge(model, logprobs=True, swap=True).judge(QUESTION, ANSWERS)
    assert verdict.choice == 1 and math.isclose(verdict.probability or 0, 0.7)


async def test_swap_with_tied_probabilities_keeps_a_consistent_choice() -> None:
    model = Probable([("A", 0.5), ("B", 0.5)])  # Paris at 0.5 in both orders
    verdict = await Judge(model, logprobs=True, swap=True).judge(QUESTION, ANSWERS)
    assert (verdict.choice, verdict.probability, verdict.flags) == (0, 0.5, [])


async def test_swap_with_samples_makes_two_times_k_calls() -> None:
    model = ScriptedBackend(by_order([reply("A"), reply("A"), reply("B")], [reply("B"), reply("B"), reply("B")]))
    verdict = await Judge(model, settings=Settings(seed=3), samples=3, swap=True).judge(QUESTION, ANSWERS)
    assert len(model.calls) == 6
    for order in (True, False):
        seeds = [call.settings.seed for call in model.calls if straight(call.messages) == order]
        assert len(seeds) == 3 and len(set(seeds)) == 3 and 3 in seeds
    assert [len(r.readings) for r in verdict.readings] == [3, 3]
    assert [[s.choice for s in r.readings] for r in verdict.readings] == [[0, 0, 1], [0, 0, 0]]
    assert verdict.choice == 0 and math.isclose(verdict.confidence, (200 / 3 + 100) / 2)
    assert verdict.attempts == 6


async def test_swap_keeps_what_either_order_noticed() -> None:
    model = ScriptedBackend(by_order([reply("A")] * 3, ["not json", reply("B"), reply("B")]))
    verdict = await Judge(model, samples=3, swap=True, max_reasks=0).judge(QUESTION, ANSWERS)
    assert verdict.choice == 0 and verdict.flags == ["1 of 3 samples failed"]
    assert [r.flags for r in verdict.readings] == [[], ["1 of 3 samples failed"]]


async def test_swap_of_tied_samples_is_undecided_in_an_order() -> None:
    model = ScriptedBackend(by_order([reply("A"), reply("B")], [reply("B"), reply("B")]))
    verdict = await Judge(model, samples=2, swap=True).judge(QUESTION, ANSWERS)
    assert verdict.choice is None and verdict.abstained
    assert "undecided-in-an-order" in verdict.flags


# Reference answers.


async def test_the_reference_is_in_the_prompt_fenced_and_never_a_candidate() -> None:
    model = ScriptedBackend([reply("A")])
    seen = View(question=QUESTION, answers=ANSWERS, references={"reference": REFERENCE})
    verdict = await Judge(model, reference="reference").decide(seen)
    text = prompt(model.calls[0].messages)
    assert f"not one of the candidates):\n{fence(REFERENCE)}" in text
    assert text.count(REFERENCE) == 1 and text.index(REFERENCE) > text.index(fence("Berlin"))
    assert "Answer A:" in text and "Answer B:" in text and "Answer C" not in text
    schema = model.calls[0].schema
    assert schema is not None and schema.json_schema["properties"]["answer"]["enum"] == ["A", "B"]
    assert verdict.choice == 0


async def test_a_judge_without_a_reference_field_shows_none() -> None:
    model = ScriptedBackend([reply("A")])
    await Judge(model).decide(View(question=QUESTION, answers=ANSWERS, references={"reference": REFERENCE}))
    text = prompt(model.calls[0].messages)
    assert REFERENCE not in text and "Reference answer" not in text


async def test_the_reference_stays_the_same_in_both_orders() -> None:
    model = ScriptedBackend(by_order([reply("A")], [reply("B")]))
    seen = View(question=QUESTION, answers=ANSWERS, references={"gold_text": REFERENCE})
    await Judge(model, reference="gold_text", swap=True).decide(seen)
    assert all(prompt(call.messages).count(fence(REFERENCE)) == 1 for call in model.calls)


async def test_a_view_without_the_reference_field_is_a_config_error_naming_it() -> None:
    model = ScriptedBackend([reply("A")])
    seen = View(question=QUESTION, answers=ANSWERS, references={"reference": REFERENCE})
    with pytest.raises(ConfigError, match="'gold_text'"):
        await Judge(model, reference="gold_text", samples=2).decide(seen)
    assert model.calls == []


def test_the_jsonl_loader_maps_a_reference_column(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    rows = [
        {"question": "Q?", "answers": ["yes", "no"], "ideal": "Yes, because.", "reference": "ignored"},
        {"question": "Q2?", "answers": ["yes", "no"], "reference": "By default."},
        {"question": "Q3?", "answers": ["yes", "no"]},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    mapped = list(read(Source(loader="jsonl", path=path, fields={"reference": "ideal"})))
    first = mapped[0]
    assert isinstance(first, Item) and first.reference == "Yes, because."
    assert first.state()["references"] == {"reference": "Yes, because."}
    assert [(m.source, m.reason) for m in mapped[1:] if isinstance(m, Malformed)] == [
        ("d.jsonl:2", "'ideal' is missing or empty"),  # a column mapped explicitly is required, as any other
        ("d.jsonl:3", "'ideal' is missing or empty"),
    ]
    default = [i for i in read(Source(loader="jsonl", path=path)) if isinstance(i, Item)]
    assert [i.reference for i in default] == ["ignored", "By default.", None]  # the default column is optional
    assert default[2].state()["references"] == {}


def test_the_pairwise_loader_reads_a_reference_column(tmp_path: Path) -> None:
    path = tmp_path / "pairs.json"
    rows = [{"input": "Q?", "output_1": "good", "output_2": "bad", "label": 1, "reference": "the good one"}]
    path.write_text(json.dumps(rows))
    (item,) = read(Source(loader="pairwise", path=path))
    assert isinstance(item, Item) and item.reference == "the good one" and item.answers == ("good", "bad")


# Scenario keys.


def scenario(
    tmp_path: Path, rows: list[dict[str, Any]], judge: dict[str, Any], model: str, fields: dict[str, Any] | None = None
) -> Path:
    body = {
        "name": "methods",
        "data": {"loader": "jsonl", "path": "items.jsonl", "fields": fields or {}},
        "models": {"default": model},
        "judges": [judge],
        "protocols": [{"kind": "direct_qa"}],
        "cache": False,
    }
    return write_scenario(tmp_path, body, rows)


ROWS = [
    {"id": f"q{i}", "question": f"Question {i}?", "answers": [f"yes {i}", f"no {i}"], "gold": 0, "ref": f"Ref {i}."}
    for i in range(3)
]


@pytest.mark.parametrize("command", ["run", "scenarios"])
@pytest.mark.parametrize(("field", "fields"), [("reference", {}), ("ref", {"meta": ["ref"]}), ("ref", {})])
def test_a_row_without_the_reference_field_stops_the_run_before_any_call(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    fake_server: FakeServer,
    command: str,
    field: str,
    fields: dict[str, Any],
) -> None:
    rows = [{**row, "reference": row["ref"]} for row in ROWS]
    rows[1] = {k: v for k, v in rows[1].items() if k != field}
    judge = {"name": "ref_judge", "reference": field}
    path = scenario(tmp_path, rows, judge, f"openai:fake@{fake_server.url}", fields)
    args = ["run", str(path), "--out", str(tmp_path / "run")] if command == "run" else ["scenarios", str(path)]
    with pytest.raises(SystemExit) as exit_:
        main(args)
    assert exit_.value.code == 2
    errors = [line for line in capsys.readouterr().err.strip().splitlines() if line]
    assert len(errors) == 1, errors
    wrong = "items.jsonl:1" if fields == {} and field == "ref" else "items.jsonl:2"  # an unmapped column: no row has it
    assert f"{wrong}: judges.ref_judge.reference: the row has no {field!r} field" in errors[0], errors[0]
    assert fake_server.requests == [] and not (tmp_path / "run").exists()


@pytest.mark.parametrize(("field", "fields"), [("reference", {"reference": "ref"}), ("ref", {"meta": ["ref"]})])
def test_a_scenario_judge_reads_its_reference_field(
    tmp_path: Path, fake_server: FakeServer, field: str, fields: dict[str, Any]
) -> None:
    bodies = recorded(fake_server)
    judge = {"name": "ref_judge", "reference": field, "samples": 2, "swap": True}
    path = scenario(tmp_path, ROWS, judge, f"openai:fake@{fake_server.url}", fields)
    with pytest.raises(SystemExit) as exit_:
        main(["run", str(path), "--out", str(tmp_path / "run")])
    assert exit_.value.code == 0
    assert len(bodies) == 3 * 2 * 2  # items x orders x samples
    for i in range(3):
        asked = [b for b in bodies if f"Question {i}?" in b["messages"][-1]["content"]]
        assert len(asked) == 4 and all(fence(f"Ref {i}.") in b["messages"][-1]["content"] for b in asked)
        assert len({b["seed"] for b in asked}) == 2


@pytest.mark.parametrize(
    ("judge", "message"),
    [
        ({"samples": 0}, "judges.0.samples: Input should be greater than or equal to 1"),
        ({"reference": ""}, "judges.0.reference: String should have at least 1 character"),
        ({"swap": "sometimes"}, "judges.0.swap: Input should be a valid boolean"),
    ],
)
def test_bad_judge_keys_name_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], judge: dict[str, Any], message: str
) -> None:
    path = scenario(tmp_path, ROWS, judge, "scripted")
    with pytest.raises(SystemExit) as exit_:
        main(["run", str(path), "--out", str(tmp_path / "run")])
    assert exit_.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"agora: error: ConfigError: {path}: {message}"), lines


# CLI flags.

CLI_CASE = ["--question", QUESTION, "--answer", ANSWERS[0], "--answer", ANSWERS[1]]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["judge", "--samples", "0"], "--samples: must be at least 1, got 0"),
        (["jury", "--samples", "0"], "--samples: must be at least 1, got 0"),
        (["judge", "--scale", "1"], "--scale: must be at least 2, got 1"),
        (["judge", "--checklist", "--scale", "3"], "--checklist and --scale are different judging forms"),
        (["jury", "--checklist", "--scale", "3"], "--checklist and --scale are different judging forms"),
        (["judge", "--reference", " "], "--reference: the text is empty"),
    ],
)
def test_bad_method_flags_exit_2_naming_the_flag(
    capsys: pytest.CaptureFixture[str], fake_server: FakeServer, args: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([*args, "--model", f"openai:fake@{fake_server.url}", *CLI_CASE])
    assert exit_.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("agora: error: ") and message in lines[0], lines
    assert fake_server.requests == []


def test_judge_reference_flag_reaches_the_prompt(capsys: pytest.CaptureFixture[str], fake_server: FakeServer) -> None:
    bodies = recorded(fake_server)
    with pytest.raises(SystemExit) as exit_:
        main(["judge", "--model", f"openai:fake@{fake_server.url}", *CLI_CASE, "--reference", REFERENCE, "--json"])
    assert exit_.value.code == 0, capsys.readouterr().err
    (body,) = bodies
    text = body["messages"][-1]["content"]
    assert fence(REFERENCE) in text and text.count(REFERENCE) == 1
    assert json.loads(capsys.readouterr().out)["answer"] in ANSWERS


def test_judge_samples_and_swap_on_the_fake_server(capsys: pytest.CaptureFixture[str], fake_server: FakeServer) -> None:
    bodies = recorded(fake_server)
    args = ["judge", "--model", f"openai:fake@{fake_server.url}", *CLI_CASE, "--seed", "5"]
    with pytest.raises(SystemExit) as exit_:
        main([*args, "--samples", "3", "--swap", "--temperature", "0.8", "--json"])
    assert exit_.value.code == 0, capsys.readouterr().err
    verdict = json.loads(capsys.readouterr().out)
    assert [len(order["readings"]) for order in verdict["readings"]] == [3, 3]
    assert len(fake_server.requests) == 6 and fake_server.totals() == {"ok": 6}
    assert len({r.key for r in fake_server.requests}) == 6
    shown_first = [json.dumps(b["messages"]).index("Paris") < json.dumps(b["messages"]).index("Berlin") for b in bodies]
    for order in (True, False):
        seeds = [b["seed"] for b, first in zip(bodies, shown_first, strict=True) if first == order]
        assert len(seeds) == 3 and len(set(seeds)) == 3 and 5 in seeds
        assert {b["temperature"] for b, first in zip(bodies, shown_first, strict=True) if first == order} == {0.8}
    prompt_tokens = sum(r["usage"]["prompt_tokens"] for order in verdict["readings"] for r in order["readings"])
    assert verdict["usage"]["prompt_tokens"] == prompt_tokens > 0
    assert verdict["attempts"] == 6
    if verdict["choice"] is None:
        assert verdict["flags"] == ["position-inconsistent"]
    else:
        assert verdict["answer"] == ANSWERS[verdict["choice"]]


def test_jury_flags_reach_every_juror(capsys: pytest.CaptureFixture[str], fake_server: FakeServer) -> None:
    bodies = recorded(fake_server)
    args = ["jury", "--model", f"openai:fake@{fake_server.url}", *CLI_CASE, "--jurors", "3", "--seed", "2"]
    with pytest.raises(SystemExit) as exit_:
        main([*args, "--samples", "2", "--temperature", "0.9", "--reference", REFERENCE, "--json"])
    assert exit_.value.code == 0, capsys.readouterr().err
    verdicts = json.loads(capsys.readouterr().out)["verdicts"]
    assert [len(v["readings"]) for v in verdicts] == [2, 2, 2]
    assert len(bodies) == 6 and {b["temperature"] for b in bodies} == {0.9}
    assert len({b["seed"] for b in bodies}) == 6  # each juror's samples: seeds of their own
    assert all(fence(REFERENCE) in b["messages"][-1]["content"] for b in bodies)


# Combined with a jury's personas and thresholds.


async def test_sample_agreement_feeds_a_jury_threshold() -> None:
    def juror(name: str, persona: str, letters: str) -> Juror:
        model = ScriptedBackend([reply(letter, 95) for letter in letters])
        return Juror(model, persona, name=name, settings=Settings(seed=1), samples=len(letters))

    jurors = [juror("j1", "mainstream", "AAA"), juror("j2", "skeptical", "BBA"), juror("j3", "expert", "AAA")]
    state = await direct_qa(Jury(jurors, policy=Thresholds(min_confidence=70))).ainvoke(
        {"question": QUESTION, "answers": list(ANSWERS)}
    )
    decision = state["decision"]
    confidences = {v.judge: round(v.confidence, 1) for v in state["verdicts"]}
    assert confidences == {"j1": 100.0, "j2": 66.7, "j3": 100.0}  # agreement, not the samples' stated 95
    assert (decision.outcome, decision.votes) == (0, [2.0, 0.0])  # j2's B would have voted at 95
    assert decision.abstained == ["j2"] and "low-confidence:j2" in decision.flags
    for j in jurors:
        assert isinstance(j.model, ScriptedBackend) and len(j.model.calls) == 3
        assert j.persona is not None and all(j.persona.system_prompt in prompt(c.messages) for c in j.model.calls)
