"""The checklist form: written once per question from the question alone and shared, each answer graded alone on
each question, weighted scores, ties, the re-ask of an empty checklist and the fallback; on the scripted backend,
then through ``agora jury --checklist`` and a scenario run against the fake OpenAI server."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from agora.agents.judge import Judge
from agora.agents.juror import Juror
from agora.backends.scripted import Call, ScriptedBackend
from agora.errors import VerdictParseError
from agora.methods.checklist import WRITE_PROMPT, Checklist, Checklists, Requirement, Written
from agora.protocols import Jury, direct_qa
from agora.runner.options import Options
from agora.runner.run import Run
from agora.runner.store import RunStore
from agora.scenarios import load_scenario
from agora.types import Completion, Message, OutputSchema, Settings, Usage, Verdict
from tests.fixtures.fake_server import FakeServer, reply_text
from tests.fixtures.scenarios import numbered_rows, write_scenario

QUESTION = "Name the capital of France in one word."
ANSWERS = ("Paris", "Berlin, the capital of Germany")
CHECKLIST = [("Does it name Paris?", 3), ("Is it one word?", 1), ("Does it avoid naming other cities?", 2)]
GRADES = {"Paris": ("yes", "yes", "yes"), "Berlin, the capital of Germany": ("no", "no", "no")}


def checklist_reply(requirements: Sequence[tuple[str, int]]) -> str:
    return json.dumps({"questions": [{"question": q, "weight": w} for q, w in requirements]})


def grades_reply(grades: Sequence[str]) -> str:
    return json.dumps({"reasoning": "checked each question", **{f"q{i}": g for i, g in enumerate(grades, 1)}})


def writing(call: Call) -> bool:
    return call.messages[0].content == WRITE_PROMPT


def graded(call: Call, answers: Sequence[str]) -> list[str]:
    """The answers a grading call's prompt shows."""
    return [a for a in answers if a in call.messages[-1].content]


class Recording(ScriptedBackend):
    """A scripted backend that keeps the completions it returned, to sum what it billed."""

    def __init__(self, reply: Callable[[Sequence[Message]], str]) -> None:
        super().__init__(reply)
        self.completions: list[Completion] = []

    async def complete(
        self, messages: Sequence[Message], settings: Settings, schema: OutputSchema | None = None
    ) -> Completion:
        completion = await super().complete(messages, settings, schema)
        self.completions.append(completion)
        return completion

    def billed(self) -> Usage:
        return sum((c.usage for c in self.completions), Usage())


def model(
    grades: Mapping[str, Sequence[str]] = GRADES,
    checklists: Sequence[str] = (checklist_reply(CHECKLIST),),
    direct: str = '{"reasoning": "A names the capital", "answer": "A", "confidence": 70}',
) -> Recording:
    """A scripted model: the ``checklists`` in turn for writing calls, the grades of the one answer a grading call
    shows, ``direct`` for a direct verdict."""
    written: list[str] = []

    def reply(messages: Sequence[Message]) -> str:
        if messages[0].content == WRITE_PROMPT:
            written.append(checklists[len(written)])
            return written[-1]
        if '"answer"' in messages[-1].content:  # the direct verdict's schema
            return direct
        (shown,) = [a for a in grades if a in messages[-1].content]
        return grades_reply(grades[shown])

    return Recording(reply)


async def test_a_jury_of_three_shares_one_checklist_written_from_the_question_alone() -> None:
    book = Checklists()
    backends = [model() for _ in range(3)]
    jurors = [Juror(b, name=f"juror_{i}", form=Checklist(book)) for i, b in enumerate(backends, 1)]
    state = await direct_qa(Jury(jurors)).ainvoke({"question": QUESTION, "answers": list(ANSWERS)})

    writes = [(i, c) for i, b in enumerate(backends) for c in b.calls if writing(c)]
    assert len(writes) == 1  # asked once, by one juror, for all three
    (writer, write_call) = writes[0]
    prompt = "\n".join(m.content for m in write_call.messages)
    assert QUESTION in prompt and not any(a in prompt for a in ANSWERS)

    grading = [c for b in backends for c in b.calls if not writing(c)]
    assert len(grading) == 3 * len(ANSWERS)
    for call in grading:
        assert len(graded(call, ANSWERS)) == 1  # each grading call sees its own answer only
        shared, rest = call.messages[0].content, call.messages[-1].content
        assert all(q in shared for q, _ in CHECKLIST) and rest.index(QUESTION) < rest.index(graded(call, ANSWERS)[0])
    for backend in backends:
        assert sorted(graded(c, ANSWERS)[0] for c in backend.calls if not writing(c)) == sorted(ANSWERS)

    verdicts = {v.judge: v for v in state["verdicts"]}
    assert state["decision"].outcome == 0 and state["decision"].votes == [3.0, 0.0]
    for i, backend in enumerate(backends):
        v = verdicts[f"juror_{i + 1}"]
        assert (v.method, v.checklist) == ("checklist", [q for q, _ in CHECKLIST])
        assert v.criteria == {q: [1.0, 0.0] for q, _ in CHECKLIST}
        assert (v.choice, v.scores, v.confidence) == (0, [1.0, 0.0], 100.0)
        # the writing call is billed to the writer's verdict only: each verdict costs what its own model was asked
        assert (v.usage, v.attempts) == (backend.billed(), len(backend.calls))
        assert v.attempts == (3 if i == writer else 2)


@pytest.mark.parametrize(
    ("grades", "scores", "choice", "confidence"),
    [
        # weights 3, 1, 2: 5/6 against 3/6, a margin of 1/3
        ({"one": "yny", "two": "nyy"}, [5 / 6, 3 / 6], 0, 100 / 3),
        # three answers: the best (1.0) leads the runner-up (5/6) by 1/6; the worst does not count
        ({"one": "nnn", "two": "yyy", "three": "yny"}, [0.0, 1.0, 5 / 6], 1, 100 / 6),
        # 3/6 each, on different questions: unweighted it would be 1 of 3 against 2 of 3
        ({"one": "ynn", "two": "nyy"}, [0.5, 0.5], None, 0.0),
    ],
)
async def test_scores_are_weighted_shares_of_yes_and_a_tie_is_undecided(
    grades: dict[str, str], scores: list[float], choice: int | None, confidence: float
) -> None:
    answers = [f"answer {name}" for name in grades]
    backend = model({f"answer {k}": tuple("yes" if g == "y" else "no" for g in v) for k, v in grades.items()})
    verdict = await Judge(backend, form=Checklist(Checklists())).judge(QUESTION, answers)
    assert verdict.scores == pytest.approx(scores) and verdict.confidence == pytest.approx(confidence)
    assert verdict.choice == choice and verdict.abstained == (choice is None)
    assert verdict.flags == ([] if choice is not None else ["tied-scores"])
    assert verdict.criteria == {q: [1.0 if g[k] == "y" else 0.0 for g in grades.values()] for k, (q, _) in
                                enumerate(CHECKLIST)}  # fmt: skip


async def test_an_empty_checklist_is_re_asked_once_then_every_judge_falls_back_to_direct_judging() -> None:
    book = Checklists()
    empty = checklist_reply([])
    writer, other = model(checklists=(empty, empty)), model()
    first = await Judge(writer, form=Checklist(book)).judge(QUESTION, ANSWERS)
    second = await Judge(other, form=Checklist(book)).judge(QUESTION, ANSWERS)

    writes = [c for c in writer.calls if writing(c)]
    assert len(writes) == 2 and not any(writing(c) for c in other.calls)
    again = writes[1].messages
    assert again[-2].content == empty and "has no questions" in again[-1].content  # it says why
    for verdict, backend in ((first, writer), (second, other)):
        assert (verdict.choice, verdict.confidence, verdict.method) == (0, 70, "checklist")
        assert verdict.flags == ["checklist-fallback"] and verdict.checklist == []
        assert verdict.scores is None and verdict.usage == backend.billed()
    assert (first.attempts, second.attempts) == (3, 1)  # two writing calls and a direct one; a direct one


async def test_a_checklist_given_on_the_re_ask_is_used_and_repeated_questions_count_once() -> None:
    repeated = [*CHECKLIST, ("Is it one word?", 3)]
    backend = model(checklists=(checklist_reply([]), checklist_reply(repeated)))
    verdict = await Judge(backend, form=Checklist(Checklists())).judge(QUESTION, ANSWERS)
    assert verdict.checklist == [q for q, _ in CHECKLIST] and verdict.flags == []
    assert verdict.attempts == 2 + len(ANSWERS)
    grading = [c for c in backend.calls if not writing(c)]
    assert all(c.schema is not None and list(c.schema.json_schema["properties"]) == ["reasoning", "q1", "q2", "q3"]
               for c in grading)  # fmt: skip


async def test_samples_share_the_checklist_and_bill_it_once() -> None:
    backend = model()
    verdict = await Judge(backend, form=Checklist(Checklists()), samples=3).judge(QUESTION, ANSWERS)
    assert sum(writing(c) for c in backend.calls) == 1
    assert len({c.settings.seed for c in backend.calls if not writing(c)}) == 3
    assert (verdict.usage, verdict.attempts) == (backend.billed(), 1 + 3 * len(ANSWERS))


async def test_the_book_writes_once_for_concurrent_callers_and_again_after_a_failure() -> None:
    book = Checklists()
    calls: list[str] = []

    def writer(name: str, fail: bool = False) -> Callable[[], Any]:
        async def write() -> Written:
            calls.append(name)
            await asyncio.sleep(0.01)
            if fail:
                raise VerdictParseError("no valid checklist", raw="", attempts=3)
            return Written((Requirement(question=f"by {name}?", weight=1),), ())

        return write

    first, second = await asyncio.gather(book.get("q", writer("a")), book.get("q", writer("b")))
    assert first is second and calls == ["a"] and (await book.get("q", writer("c"))) is first

    failed = await asyncio.gather(book.get("r", writer("d", fail=True)), book.get("r", writer("e")),
                                  return_exceptions=True)  # fmt: skip
    assert all(isinstance(f, VerdictParseError) for f in failed) and calls == ["a", "d"]
    assert (await book.get("r", writer("f"))).requirements[0].question == "by f?"  # a failure is not kept


def expected_scores(verdict: Verdict, weights: dict[str, int]) -> list[float]:
    """Each answer's weighted share of yes, from the verdict's per-question grades and the written weights."""
    assert verdict.criteria is not None
    total = sum(weights.values())
    n = len(next(iter(verdict.criteria.values())))
    return [sum(weights[q] * grades[i] for q, grades in verdict.criteria.items()) / total for i in range(n)]


def fake_checklist(body: dict[str, Any]) -> dict[str, int]:
    """The checklist the fake server wrote for a writing request: question -> weight (repeats kept once)."""
    weights: dict[str, int] = {}
    for r in json.loads(reply_text(body))["questions"]:
        weights[r["question"]] = max(weights.get(r["question"], 0), r["weight"])
    return weights


def keeping(bodies: list[dict[str, Any]]) -> Callable[[dict[str, Any]], float]:
    """A fake server latency of 0 that keeps each request body in ``bodies``."""

    def latency(body: dict[str, Any]) -> float:
        bodies.append(body)
        return 0.0

    return latency


def is_writing(body: dict[str, Any]) -> bool:
    return body["messages"][0]["content"] == WRITE_PROMPT


def test_agora_jury_checklist_on_the_fake_server() -> None:
    bodies: list[dict[str, Any]] = []
    with FakeServer(latency=keeping(bodies)) as server:
        result = subprocess.run(
            [sys.executable, "-m", "agora", "jury", "--model", "openai:fake", "--base-url", server.url,
             "--jurors", "3", "--checklist", "--question", QUESTION, "--answer", ANSWERS[0], "--answer", ANSWERS[1],
             "--json"],
            capture_output=True, text=True, timeout=300, env={**os.environ, "OPENAI_API_KEY": ""},
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert server.totals() == {"ok": 1 + 3 * len(ANSWERS)}
    payload = json.loads(result.stdout)

    (write,) = [b for b in bodies if is_writing(b)]
    prompt = json.dumps(write["messages"])
    assert QUESTION in prompt and not any(a in prompt for a in ANSWERS)
    for body in bodies:
        if not is_writing(body):
            assert sum(a in body["messages"][-1]["content"] for a in ANSWERS) == 1
    weights = fake_checklist(write)
    verdicts = [Verdict.model_validate(v) for v in payload["verdicts"]]
    assert [v.judge for v in verdicts] == ["juror_1", "juror_2", "juror_3"]
    for v in verdicts:
        assert v.method == "checklist" and v.checklist == list(weights)
        assert v.scores == pytest.approx(expected_scores(v, weights))
    assert sorted(v.attempts for v in verdicts) == [2, 2, 3]  # the writing call counted once, by its writer
    billed = sum(v.usage.prompt_tokens for v in verdicts)
    sent = sum(sum(len(str(m["content"])) for m in b["messages"]) // 4 for b in bodies)  # the server's own count
    assert billed == sent


def test_a_scenario_of_checklist_judges_records_the_checklist(
    tmp_path: Path, fake_server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGORA_CACHE_DIR", str(tmp_path / "cache"))
    bodies: list[dict[str, Any]] = []
    fake_server.latency = keeping(bodies)
    body = {
        "name": "checklists",
        "data": {"loader": "jsonl", "path": "items.jsonl"},
        "models": {"default": f"openai:fake@{fake_server.url}"},
        "judges": [{"persona": "mainstream", "checklist": True}, {"persona": "skeptical", "checklist": True}],
        "protocols": [{"kind": "direct_qa"}],
        "cache": False,
    }
    rows = numbered_rows(3)
    path = write_scenario(tmp_path, body, rows, name="checklists.yaml")
    the_run = Run.create(load_scenario(path), Options(), tmp_path / "run", path)
    asyncio.run(the_run.execute())
    the_run.close()

    written = {b["messages"][1]["content"]: fake_checklist(b) for b in bodies if is_writing(b)}
    assert len(written) == len(rows)  # one checklist per item, shared by both judges
    records = list(RunStore(tmp_path / "run").records())
    assert len(records) == len(rows) and {r.status for r in records} == {"ok"}
    for record in records:
        row = next(r for r in rows if r["id"] == record.item)
        (weights,) = [w for text, w in written.items() if row["question"] in text]
        assert sorted(str(v.persona) for v in record.verdicts) == ["mainstream", "skeptical"]
        for v in record.verdicts:
            assert v.method == "checklist" and v.checklist == list(weights)
            assert v.scores == pytest.approx(expected_scores(v, weights))
        assert record.usage["calls"] == 1 + 2 * 2 == sum(v.attempts for v in record.verdicts)
        assert record.usage["prompt_tokens"] == sum(v.usage.prompt_tokens for v in record.verdicts)
