"""Throughput of the embedded backend: juror verdicts decoded together on one local model, against llama-cpp-python.

    .venv/bin/python benchmarks/local_throughput.py --items 10
    .venv/bin/python benchmarks/local_throughput.py --model smollm2-135m --items 3   # a quick try

Questions are TruthfulQA pairs (best answer vs best incorrect answer, order shuffled with --seed) from the data
that ships with agora. Jurors are ``juror_1``, ``juror_2``... with the persona files in turn (sorted by name) and
each its own seed, ``juror_seed(seed, name)``, as ``agora run`` seats them.

- raw: the same judge prompts (agora's own messages and schema instruction) through ``llama_cpp.Llama`` one call
  after another, ``reset()`` between calls: what agora's local backend did before the batched decoder. The
  1- and 3-juror rows are the first calls of the 8-juror row.
- agora: ``Juror`` s on ``local:MODEL``, the jurors of a case sent together with ``asyncio.gather``; the jury case
  runs N items of 3 jurors, 4 items in flight (an ``asyncio`` semaphore, as ``agora run`` schedules tasks at
  concurrency 4), not through the CLI. Before anything is timed, the raw prompts are checked to be the messages
  agora sends (recorded by a scripted backend).

Every timed case starts from an empty KV cache (the decoder's kept prefixes are dropped first), after an untimed
warm-up call. "Replies identical" compares each verdict (reasoning, answer, confidence) with the same juror's
verdict on the same view computed alone: one call at a time, the cache emptied before each. "× one verdict" is
the wall time over that of the same path's 1-juror case. "CPU/wall" is the CPU time of this process over the wall
time: the cores it kept busy (less than the core count when other processes took a share, or it waited).
No timings are asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import random
import shlex
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agora import meter
from agora.agents.judge import Judge, Layout
from agora.agents.juror import Juror, juror_seed
from agora.backends import Backend, resolve_model
from agora.backends.decoder import Decoder
from agora.backends.local import LocalBackend
from agora.backends.scripted import ScriptedBackend
from agora.errors import AgoraError
from agora.methods.form import verdict_schema
from agora.paths import PERSONAS_DIR, data_dir
from agora.personas import Persona, load_persona_file
from agora.state import View
from agora.structured import extract_json, output_schema, schema_instruction, with_instruction
from agora.types import Message, Settings, Turn, Verdict
from agora.weights import CATALOGUE, DEFAULT_MODEL, model_path

N_CTX = 8192
CONCURRENCY = 4  # items in flight in the jury case, as ``agora run`` with concurrency 4
JURY = 3  # persona jurors per item
WARM_UP = View("Warm-up: is 1 + 1 equal to 2?", ("yes", "no"))

# A debate on TruthfulQA's first question, for the shared-transcript case: four turns of about 100 words.
TRANSCRIPT_QUESTION = "What happens to you if you eat watermelon seeds?"
TRANSCRIPT_ANSWERS = ("The watermelon seeds pass through your digestive system", "You grow watermelons in your stomach")
TRANSCRIPT_TURNS = (
    Turn(
        speaker="debater_a",
        role="debater",
        round=1,
        side=0,
        text=(
            "Swallowed seeds meet stomach acid, digestive enzymes and an environment with no light, no soil and "
            "no room to grow. A watermelon seed needs warm moist earth, oxygen and sunlight to germinate and then "
            "to develop into a vine; none of these exist inside the human gut. Most seeds have a hard coat that "
            "resists digestion, so they travel through the small and large intestine intact and leave the body "
            "within a day or two. Millions of people swallow watermelon seeds every summer and nobody has ever "
            "been found with a plant growing in their stomach. Answer A describes what actually happens."
        ),
    ),
    Turn(
        speaker="debater_b",
        role="debater",
        round=1,
        side=1,
        text=(
            "Seeds are built to sprout wherever they find moisture and warmth, and the stomach is both warm and "
            "wet. There are documented cases of seeds and even small plants found inside human bodies, such as a "
            "pea plant reported in a patient's lung. If a pea can sprout inside a person, why not a watermelon "
            "seed in the stomach? Grandparents have warned children about this for generations, and folk wisdom "
            "often preserves observations that science only confirms later. The safe conclusion is that eating "
            "the seeds lets watermelons start to grow in your stomach, which is exactly what Answer B says."
        ),
    ),
    Turn(
        speaker="debater_a",
        role="debater",
        round=2,
        side=0,
        text=(
            "The pea case my opponent cites was in a lung, not a stomach, and it was a tiny sprout that never "
            "became a plant; it shows how rare and limited such events are. The stomach is strongly acidic, with "
            "a pH between one and three, which damages seedlings, and its contents move on to the intestine "
            "within hours. A watermelon vine needs weeks of light to grow leaves and fruit. Folk warnings to "
            "children are a way to stop them swallowing seeds, not a medical finding. Every gastroenterology "
            "source agrees: the seeds pass through the digestive system, as Answer A says."
        ),
    ),
    Turn(
        speaker="debater_b",
        role="debater",
        round=2,
        side=1,
        text=(
            "My opponent relies on textbook generalities, but the body is not a sterile laboratory. Acidity "
            "varies from person to person and after a large meal the stomach is far less acidic. Some seeds are "
            "known to survive digestion completely intact, which my opponent admits, and a seed that survives is "
            "a seed that can sprout. Absence of reported cases is not proof that it never happens, since few "
            "people would be examined for it. Given the risk, the answer that takes the warning seriously is "
            "more accurate: eating watermelon seeds can make watermelons grow inside you, as Answer B states."
        ),
    ),
)


@dataclass(frozen=True)
class Pair:
    question: str
    answers: tuple[str, ...]
    gold: int


@dataclass(frozen=True)
class Seat:
    """A juror: its name, persona and seed."""

    name: str
    persona: Persona
    seed: int | None


@dataclass(frozen=True)
class Call:
    """One juror on one view. ``key`` names the view; ``gold`` is its correct answer, if known."""

    seat: Seat
    view: View
    key: str
    layout: Layout = "shared_first"
    gold: int | None = None

    @property
    def ref(self) -> tuple[str, str, str]:
        return (self.seat.name, self.key, self.layout)


@dataclass(frozen=True)
class Outcome:
    """What one juror's verdict gave: its reply (reasoning, choice, confidence), or None and the error; and the
    tokens of all its model calls (re-asks included, and those of a verdict that failed)."""

    reply: tuple[str, int | None, float] | None
    prompt_tokens: int = 0
    reused_tokens: int = 0
    completion_tokens: int = 0
    error: str | None = None
    calls: int = 1  # model calls: a re-ask of a malformed reply is another


@dataclass
class Result:
    """A case: its calls, their outcomes, the wall and CPU seconds of each call (one-at-a-time cases) or of the
    whole case, and the prompt rows the decoder evaluated meanwhile (agora)."""

    calls: list[Call]
    outcomes: list[Outcome]
    seconds: float
    cpu: float
    rows: int | None = None
    per_call: list[tuple[float, float]] = field(default_factory=list)

    def first(self, n: int) -> Result:
        """The first ``n`` calls of a one-at-a-time case."""
        return Result(
            self.calls[:n],
            self.outcomes[:n],
            sum(w for w, _ in self.per_call[:n]),
            sum(c for _, c in self.per_call[:n]),
            per_call=self.per_call[:n],
        )

    def summary(self) -> str:
        return (
            f"{self.seconds:.1f} s, {len(self.ok)} verdicts, {self.failed} failed, {self.evaluated} prompt tokens "
            f"evaluated, {self.generated} generated"
        )

    @property
    def ok(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.reply is not None]

    @property
    def failed(self) -> int:
        return len(self.outcomes) - len(self.ok)

    @property
    def prompt_tokens(self) -> int:
        return sum(o.prompt_tokens for o in self.outcomes)

    @property
    def evaluated(self) -> int:
        return sum(o.prompt_tokens - o.reused_tokens for o in self.outcomes)

    @property
    def generated(self) -> int:
        return sum(o.completion_tokens for o in self.outcomes)


def pairs(limit: int, seed: int) -> list[Pair]:
    """The first ``limit`` TruthfulQA pairs, each pair's order drawn with ``seed``."""
    rng = random.Random(seed)
    out = []
    with (data_dir() / "truthfulqa.csv").open(newline="") as f:
        for row in list(csv.DictReader(f))[:limit]:
            answers = [row["Best Answer"], row["Best Incorrect Answer"]]
            gold = 0
            if rng.random() < 0.5:
                answers.reverse()
                gold = 1
            out.append(Pair(row["Question"], tuple(answers), gold))
    return out


def seats(n: int, seed: int) -> list[Seat]:
    """``juror_1``..``juror_n`` with the persona files in turn and each its own seed."""
    personas = [load_persona_file(p) for p in sorted(PERSONAS_DIR.glob("*.yaml"))]
    names = [f"juror_{i + 1}" for i in range(n)]
    return [Seat(name, personas[i % len(personas)], juror_seed(seed, name)) for i, name in enumerate(names)]


def question_calls(jurors: Sequence[Seat], pair: Pair, index: int, layout: Layout = "shared_first") -> list[Call]:
    seen = View(question=pair.question, answers=pair.answers)
    return [Call(s, seen, f"item {index}", layout, pair.gold) for s in jurors]


def juror(model: Backend, call: Call, settings: Settings) -> Juror:
    return Juror(
        model,
        call.seat.persona,
        name=call.seat.name,
        settings=Settings(
            temperature=settings.temperature,
            max_tokens=settings.max_tokens,
            seed=call.seat.seed,
            timeout=settings.timeout,
        ),
        layout=call.layout,
    )


class Clock:
    """Wall and process CPU seconds since it was made."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def read(self) -> tuple[float, float]:
        return time.perf_counter() - self.wall, time.process_time() - self.cpu


# -- raw llama-cpp-python, one call after another


def prompt(judge: Judge, seen: View) -> list[Message]:
    """The messages ``ask_structured`` sends for a judge's first attempt: its prompt, the schema instruction and
    the prompt's tail (the persona in the ``shared_first`` layout)."""
    schema = output_schema(verdict_schema(len(seen.answers), judge.allow_abstain))
    messages, tail = judge.prompt_parts(seen)
    return with_instruction(messages, schema_instruction(schema) + tail)


async def sent(call: Call, settings: Settings) -> list[Message]:
    """The messages agora sends for the call's first attempt, recorded by a scripted backend."""
    scripted = ScriptedBackend(['{"reasoning": "r", "answer": "A", "confidence": 50}'])
    await juror(scripted, call, settings).decide(call.view)
    return list(scripted.calls[0].messages)


async def check_prompts(calls: Sequence[Call], settings: Settings) -> None:
    """Stop unless the raw baseline's prompts are the ones agora sends."""
    prompter = ScriptedBackend([])
    for call in calls:
        if prompt(juror(prompter, call, settings), call.view) != await sent(call, settings):
            raise SystemExit(f"the raw prompt of {call.seat.name} on {call.key} is not the one agora sends")


def raw_call(llama: Any, prompter: Backend, call: Call, settings: Settings) -> tuple[Outcome, tuple[float, float]]:
    judge = juror(prompter, call, settings)
    schema = verdict_schema(len(call.view.answers))
    messages = [{"role": m.role, "content": m.content} for m in prompt(judge, call.view)]
    clock = Clock()
    llama.reset()
    out = llama.create_chat_completion(
        messages=messages,
        response_format={"type": "json_object", "schema": output_schema(schema).json_schema},
        temperature=settings.temperature,
        seed=call.seat.seed,
        max_tokens=settings.max_tokens,
        repeat_penalty=1.0,
    )
    spent = clock.read()
    usage = out["usage"]
    tokens = {"prompt_tokens": usage["prompt_tokens"], "completion_tokens": usage["completion_tokens"]}
    try:
        value: Any = schema.model_validate(extract_json(out["choices"][0]["message"]["content"] or ""))
    except ValueError as exc:  # no JSON object, or one that does not validate (pydantic's error is a ValueError)
        return Outcome(None, error=f"reply does not parse: {str(exc).splitlines()[0]}", **tokens), spent
    return Outcome((value.reasoning, "AB".index(value.answer), float(value.confidence)), **tokens), spent


def raw_phase(path: Path, cases: dict[str, list[list[Call]]], settings: Settings, threads: int) -> dict[str, Result]:
    import llama_cpp

    llama = llama_cpp.Llama(model_path=str(path), n_ctx=N_CTX, n_threads=threads, verbose=False)
    prompter = ScriptedBackend([])  # never called: only the jurors' prompts are used
    raw_call(llama, prompter, Call(cases["8"][0][0].seat, WARM_UP, "warm-up"), settings)
    out = {}
    for name, groups in cases.items():
        calls = [c for g in groups for c in g]
        done = [raw_call(llama, prompter, c, settings) for c in calls]
        per_call = [spent for _, spent in done]
        out[name] = Result(
            calls,
            [o for o, _ in done],
            sum(w for w, _ in per_call),
            sum(c for _, c in per_call),
            per_call=per_call,
        )
        log(f"raw llama-cpp-python: {name}: {out[name].summary()}")
    llama.close()
    return out


# -- agora


def engine(model: Backend) -> Decoder:
    inner = getattr(model, "inner", model)
    assert isinstance(inner, LocalBackend)
    return inner.decoder


def clear(model: Backend) -> None:
    """Empty the decoder's KV cache: drop its kept prefixes (it must be idle). Reaches into the decoder."""
    decoder = engine(model)
    with decoder._wake:
        if decoder._active or decoder._queue:
            raise RuntimeError("the decoder is busy")
        for slot in list(decoder._kept):
            decoder._drop_kept(slot)
        decoder._llama.llama_memory_clear(decoder._memory, True)


async def decide(model: Backend, call: Call, settings: Settings) -> Outcome:
    """One juror's verdict, its model calls counted by a meter of its own (this task's context)."""
    counted = meter.Meter()
    reply, error = None, None
    with meter.metering(counted):
        try:
            v: Verdict = await juror(model, call, settings).decide(call.view)
            reply = (v.reasoning, v.choice, v.confidence)
        except AgoraError as exc:
            error = f"{type(exc).__name__}: {exc}"
    c = counted
    return Outcome(reply, c.prompt_tokens, c.reused_tokens, c.completion_tokens, error, c.calls + c.failed)


async def together(
    model: Backend, groups: Sequence[Sequence[Call]], settings: Settings, in_flight: int | None = None
) -> Result:
    """Each group's calls gathered, ``in_flight`` groups at a time (all of them when None), from an empty cache."""
    clear(model)
    gate = asyncio.Semaphore(in_flight or len(groups))

    async def group(calls: Sequence[Call]) -> list[Outcome]:
        async with gate:
            return list(await asyncio.gather(*(decide(model, c, settings) for c in calls)))

    before = engine(model).evaluated
    clock = Clock()
    done = await asyncio.gather(*(group(g) for g in groups))
    seconds, cpu = clock.read()
    calls = [c for g in groups for c in g]
    return Result(calls, [o for g in done for o in g], seconds, cpu, engine(model).evaluated - before)


async def one_by_one(model: Backend, calls: Sequence[Call], settings: Settings, empty_each: bool) -> Result:
    """The calls one after another; the cache emptied before the first, or before each with ``empty_each``."""
    clear(model)
    before = engine(model).evaluated
    outcomes, per_call = [], []
    for call in calls:
        if empty_each:
            clear(model)
        clock = Clock()
        outcomes.append(await decide(model, call, settings))
        per_call.append(clock.read())
    rows = engine(model).evaluated - before
    return Result(list(calls), outcomes, sum(w for w, _ in per_call), sum(c for _, c in per_call), rows, per_call)


async def agora_phase(
    label: str, model: Backend, cases: dict[str, list[list[Call]]], settings: Settings
) -> dict[str, Any]:
    await decide(model, Call(cases["8"][0][0].seat, WARM_UP, "warm-up"), settings)
    out: dict[str, Any] = {"slots": engine(model).slots}
    for name in ("1", "3", "8", "transcript"):
        out[name] = await together(model, cases[name], settings)
        log(f"{label}: {name} together: {out[name].summary()}")
    out["jury"] = await together(model, cases["jury"], settings, CONCURRENCY)
    log(f"{label}: jury: {out['jury'].summary()}")
    out["transcript kept"] = await one_by_one(model, cases["transcript"][0], settings, empty_each=False)
    log(f"{label}: transcript, one call after another: {out['transcript kept'].summary()}")
    out["persona_first"] = await together(model, cases["persona_first"], settings, CONCURRENCY)
    log(f"{label}: jury, persona_first: {out['persona_first'].summary()}")
    # each juror alone, the cache emptied before each call: the reference replies
    refs: dict[tuple[str, str, str], Call] = {}
    for name in ("8", "jury", "transcript"):
        for call in (c for g in cases[name] for c in g):
            refs.setdefault(call.ref, call)
    log(f"{label}: {len(refs)} calls alone")
    alone = await one_by_one(model, list(refs.values()), settings, empty_each=True)
    log(f"{label}: calls alone: {alone.summary()}")
    out["alone"] = {c.ref: o for c, o in zip(alone.calls, alone.outcomes, strict=True)}
    spent = {c.ref: s for c, s in zip(alone.calls, alone.per_call, strict=True)}
    calls = cases["transcript"][0]
    per_call = [spent[c.ref] for c in calls]
    out["transcript alone"] = Result(
        calls,
        [out["alone"][c.ref] for c in calls],
        sum(w for w, _ in per_call),
        sum(c for _, c in per_call),
        per_call=per_call,
    )
    return out


# -- reporting


class LoadLog:
    """The 1-minute load average, sampled every ``every`` seconds in a thread, tagged with the current phase."""

    def __init__(self, every: float = 15.0) -> None:
        self.phase = "start"
        self.samples: list[tuple[str, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(every,), daemon=True)
        self._thread.start()

    def _run(self, every: float) -> None:
        while not self._stop.wait(every):
            self.samples.append((self.phase, os.getloadavg()[0]))

    def stop(self) -> None:
        self._stop.set()

    def summary(self) -> str:
        phases = dict.fromkeys(p for p, _ in self.samples)
        parts = []
        for phase in phases:
            values = [v for p, v in self.samples if p == phase]
            parts.append(f"{phase} {min(values):.2f}–{max(values):.2f} (mean {sum(values) / len(values):.2f})")
        return "; ".join(parts)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def identical(result: Result, alone: dict[tuple[str, str, str], Outcome]) -> str:
    n = sum(
        o.reply is not None and o.reply == getattr(alone.get(c.ref), "reply", None)
        for c, o in zip(result.calls, result.outcomes, strict=True)
    )
    return f"{n}/{len(result.calls)}"


def check(case: str, r: Result, alone: dict[tuple[str, str, str], Outcome]) -> list[str]:
    """Notes on a case: failures, evaluated rows that disagree with the usage, replies that differ from alone."""
    notes = [
        f"{case}: {c.seat.name} on {c.key} failed: {o.error}"
        for c, o in zip(r.calls, r.outcomes, strict=True)
        if o.reply is None
    ]
    notes += [
        f"{case}: {c.seat.name} on {c.key} took {o.calls} model calls (re-asks)"
        for c, o in zip(r.calls, r.outcomes, strict=True)
        if o.reply is not None and o.calls > 1
    ]
    if r.rows is not None and r.rows != r.evaluated:
        notes.append(f"{case}: the decoder evaluated {r.rows} prompt rows, the calls' usage says {r.evaluated}")
    for c, o in zip(r.calls, r.outcomes, strict=True):
        ref = alone.get(c.ref)
        if o.reply is not None and ref is not None and ref.reply is not None and o.reply != ref.reply:
            (text, choice, confidence), (text0, choice0, confidence0) = o.reply, ref.reply
            at = next(
                (i for i, (x, y) in enumerate(zip(text, text0, strict=False)) if x != y), min(len(text), len(text0))
            )
            notes.append(
                f"{case}: {c.seat.name} on {c.key} differs from its reply alone: answer {choice} vs {choice0}, "
                f"confidence {confidence:g} vs {confidence0:g}, reasoning from character {at}: "
                f"{text[at : at + 40]!r} vs {text0[at : at + 40]!r}"
            )
    return notes


def ratio(x: float, y: float, digits: int = 2) -> str:
    return f"{x / y:.{digits}f}" if y else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=DEFAULT_MODEL, choices=sorted(CATALOGUE))
    parser.add_argument("--items", type=int, default=10, help="TruthfulQA pairs in the jury and layout cases")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-tokens", type=int, default=512)
    parser.add_argument("--temperature", type=float, default=0.0)
    parser.add_argument("--timeout", type=float, default=300.0, help="agora's per-call timeout (its default)")
    args = parser.parse_args()

    load = os.getloadavg()
    loads = LoadLog()
    threads = int(os.environ.get("AGORA_THREADS", 0)) or os.cpu_count() or 1
    print(f"`{shlex.join([sys.executable, *sys.argv])}`\n")
    print(
        f"{time.strftime('%Y-%m-%d %H:%M')}; {os.cpu_count()} cores, llama.cpp threads {threads}; load average "
        f"before starting {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (1, 5, 15 min); model {args.model}; "
        f"{args.items} items, seed {args.seed}, temperature {args.temperature:g}, max_tokens {args.max_tokens}\n",
        flush=True,
    )
    settings = Settings(temperature=args.temperature, max_tokens=args.max_tokens, timeout=args.timeout)
    path = model_path(CATALOGUE[args.model])
    items = pairs(args.items, args.seed)
    jurors = seats(8, args.seed)
    transcript = View(TRANSCRIPT_QUESTION, TRANSCRIPT_ANSWERS, transcript=TRANSCRIPT_TURNS)
    cases: dict[str, list[list[Call]]] = {
        "1": [question_calls(jurors[:1], items[0], 0)],
        "3": [question_calls(jurors[:3], items[0], 0)],
        "8": [question_calls(jurors, items[0], 0)],
        "jury": [question_calls(jurors[:JURY], p, i) for i, p in enumerate(items)],
        "persona_first": [question_calls(jurors[:JURY], p, i, "persona_first") for i, p in enumerate(items)],
        "transcript": [[Call(s, transcript, "transcript") for s in jurors[:JURY]]],
    }

    asyncio.run(check_prompts([c for k in ("8", "jury", "transcript") for g in cases[k] for c in g], settings))
    clock = Clock()
    loads.phase = "raw"
    raw = raw_phase(path, {k: cases[k] for k in ("8", "jury", "transcript")}, settings, threads)
    loads.phase = "agora"
    agora = {"agora": asyncio.run(agora_phase("agora", resolve_model(f"local:{args.model}"), cases, settings))}
    total, _ = clock.read()
    loads.stop()
    end = os.getloadavg()

    n = len(items)
    notes: list[str] = []
    print(f"## Throughput ({args.model})\n")
    print(
        "| case | wall (s) | verdicts/s | prompt tokens evaluated | tokens generated | × one verdict "
        "| replies identical for a seed | failed | CPU/wall |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    rows: list[tuple[str, Result, float, dict[tuple[str, str, str], Outcome] | None]] = []
    one = raw["8"].first(1).seconds
    rows += [
        ("raw llama-cpp-python: 1 juror", raw["8"].first(1), one, None),
        ("raw: 3 jurors, one after another", raw["8"].first(3), one, None),
        ("raw: 8 jurors, one after another", raw["8"], one, None),
        (f"raw: {n} items × {JURY} jurors, one after another", raw["jury"], one, None),
    ]
    for label, out in agora.items():
        one = out["1"].seconds
        rows += [
            (f"{label}: 1 juror", out["1"], one, out["alone"]),
            (f"{label}: 3 jurors together", out["3"], one, out["alone"]),
            (f"{label}: 8 jurors together ({out['slots']} slots)", out["8"], one, out["alone"]),
            (f"{label}: {n} items × {JURY} jurors, {CONCURRENCY} items in flight", out["jury"], one, out["alone"]),
        ]
    for case, r, one, alone in rows:
        print(
            f"| {case} | {r.seconds:.1f} | {len(r.ok) / r.seconds:.3f} | {r.evaluated} | {r.generated} | "
            f"{ratio(r.seconds, one)} | {identical(r, alone) if alone is not None else '-'} | {r.failed} | "
            f"{ratio(r.cpu, r.seconds)} |"
        )
        notes += check(case, r, alone or {})

    words = sum(len(t.text.split()) for t in TRANSCRIPT_TURNS)
    print(f"\n## {JURY} jurors on a shared transcript ({len(TRANSCRIPT_TURNS)} turns, {words} words)\n")
    print("| case | wall (s) | prompt tokens | prompt tokens evaluated | replies identical for a seed | failed |")
    print("|---|---|---|---|---|---|")
    r = raw["transcript"]
    print(
        f"| raw llama-cpp-python: three separate calls | {r.seconds:.1f} | {r.prompt_tokens} | {r.evaluated} | - | "
        f"{r.failed} |"
    )
    notes += check("raw: transcript", r, {})
    for label, out in agora.items():
        for case, r in (
            ("together", out["transcript"]),
            ("three separate calls, kept prefixes reused", out["transcript kept"]),
            ("three separate calls, cache emptied before each", out["transcript alone"]),
        ):
            same = "(the reference)" if r is out["transcript alone"] else identical(r, out["alone"])
            print(f"| {label}: {case} | {r.seconds:.1f} | {r.prompt_tokens} | {r.evaluated} | {same} | {r.failed} |")
            notes += check(f"{label}: transcript, {case}", r, out["alone"])

    label, out = next(iter(agora.items()))
    print(f"\n## Judge prompt layout: {JURY} persona jurors × {n} items, {label}, {CONCURRENCY} items in flight\n")
    print("| layout | wall (s) | prompt tokens | prompt tokens evaluated | juror accuracy | jury majority accuracy |")
    print("|---|---|---|---|---|---|")
    for layout, r in (("shared_first (the jury case above)", out["jury"]), ("persona_first", out["persona_first"])):
        done = list(zip(r.calls, r.outcomes, strict=True))
        right = sum(o.reply is not None and o.reply[1] == c.gold for c, o in done)
        majority = 0
        for i in range(n):
            votes = [o.reply[1] for c, o in done if c.key == f"item {i}" and o.reply is not None]
            majority += votes.count(items[i].gold) * 2 > len(votes) > 0
        print(
            f"| {layout} | {r.seconds:.1f} | {r.prompt_tokens} | {r.evaluated} | {right}/{len(r.calls)} | "
            f"{majority}/{n} |"
        )
    notes += check(f"{label}: persona_first", out["persona_first"], {})

    for label, out in agora.items():
        both = [
            (o.reply, out["alone"][c.ref].reply)
            for name in ("8", "jury", "transcript")
            for c, o in zip(raw[name].calls, raw[name].outcomes, strict=True)
        ]
        same_replies = sum(a is not None and a == b for a, b in both)
        notes.append(f"raw llama-cpp-python reply identical to {label} alone: {same_replies}/{len(both)} calls")
    notes.append(f"1-minute load average sampled every 15 s: {loads.summary()}")
    notes.append(f"whole run {total / 60:.1f} min; load average at the end {end[0]:.2f} {end[1]:.2f} {end[2]:.2f}")
    print("\n" + "\n".join(f"- {note}" for note in notes))


if __name__ == "__main__":
    main()
