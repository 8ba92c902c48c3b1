"""Throughput of the embedded backend: juror verdicts decoded together on one local model, against llama-cpp-python.

    .venv/bin/python benchmarks/local_throughput.py --items 10
    .venv/bin/python benchmarks/local_throughput.py --model smollm2-135m --items 3   # a quick try

Questions are TruthfulQA pairs (best answer vs best incorrect answer, order shuffled with --seed) from the data
that ships with agora. Jurors are ``juror_1``, ``juror_2``... with the persona files in turn (sorted by name) and
each its own seed, ``juror_seed(seed, name)``, as ``agora run`` seats them.

- raw: the same judge prompts (agora's own messages and schema instruction) through ``llama_cpp.Llama`` one call
  after another, ``reset()`` between calls: what agora's local backend did before the batched decoder. The
  1- and 3-juror rows are the first calls of the 8-juror row.
- agora fast / exact: ``Juror`` s on ``local:MODEL`` (exact: ``LocalBackend(..., exact=True)``), the jurors of a
  case sent together with ``asyncio.gather``; the jury case runs N items of 3 jurors, 4 items in flight (an
  ``asyncio`` semaphore, as ``agora run`` schedules tasks at concurrency 4), not through the CLI.

Every timed case starts from an empty KV cache (the decoder's kept prefixes are dropped first), after an untimed
warm-up call. "Replies identical" compares each verdict (reasoning, answer, confidence) with the same juror's
verdict on the same view computed alone: one call at a time, the cache emptied before each. "× one verdict" is
the wall time over that of the same path's 1-juror case. No timings are asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import random
import shlex
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agora.agents.judge import Judge, Layout, verdict_schema
from agora.agents.juror import Juror, juror_seed
from agora.backends import Backend, resolve_model
from agora.backends import local as local_backends
from agora.backends.decoder import Decoder
from agora.backends.local import LocalBackend
from agora.errors import AgoraError
from agora.paths import PERSONAS_DIR, data_dir
from agora.personas import Persona, load_persona_file
from agora.state import View
from agora.structured import with_instruction, extract_json, output_schema, schema_instruction
from agora.types import Message, Settings, Turn, Verdict
from agora.weights import CATALOGUE, DEFAULT_MODEL, model_path

N_CTX = 8192
CONCURRENCY = 4  # items in flight in the jury case, as ``agora run`` with concurrency 4
JURY = 3  # persona jurors per item

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


@dataclass
class Result:
    """The outcome of a case: its calls, their verdicts (or errors), wall time and the decoder's evaluated rows."""

    calls: list[Call]
    outcomes: list[Verdict | BaseException]
    seconds: float
    rows: int | None = None  # Decoder.evaluated during the case (agora paths)
    per_call: list[float] = field(default_factory=list)

    @property
    def verdicts(self) -> list[Verdict]:
        return [v for v in self.outcomes if isinstance(v, Verdict)]

    @property
    def failed(self) -> int:
        return len(self.outcomes) - len(self.verdicts)

    @property
    def evaluated(self) -> int:
        return sum(v.usage.prompt_tokens - v.usage.cached_tokens for v in self.verdicts)

    @property
    def prompt_tokens(self) -> int:
        return sum(v.usage.prompt_tokens for v in self.verdicts)


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


def same(a: Verdict, b: Verdict) -> bool:
    return (a.reasoning, a.choice, a.confidence) == (b.reasoning, b.choice, b.confidence)


# -- raw llama-cpp-python, one call after another


def prompt(judge: Judge, seen: View) -> list[Message]:
    """The messages ``ask_structured`` sends for a judge's first attempt: its prompt and the schema instruction."""
    schema = output_schema(verdict_schema(len(seen.answers), judge.allow_abstain))
    return with_instruction(judge.messages(seen), schema_instruction(schema))


@dataclass
class RawReply:
    seconds: float
    prompt_tokens: int
    reply: tuple[str, int, float] | None  # reasoning, choice, confidence; None when it does not parse


def raw_call(llama: Any, prompter: Backend, call: Call, settings: Settings) -> RawReply:
    judge = juror(prompter, call, settings)  # only its prompt is used: ``prompter`` is never called
    schema = verdict_schema(len(call.view.answers))
    messages = [{"role": m.role, "content": m.content} for m in prompt(judge, call.view)]
    start = time.perf_counter()
    llama.reset()
    out = llama.create_chat_completion(
        messages=messages,
        response_format={"type": "json_object", "schema": output_schema(schema).json_schema},
        temperature=settings.temperature,
        seed=call.seat.seed,
        max_tokens=settings.max_tokens,
        repeat_penalty=1.0,
    )
    seconds = time.perf_counter() - start
    try:
        value: Any = schema.model_validate(extract_json(out["choices"][0]["message"]["content"] or ""))
        reply = (value.reasoning, "AB".index(value.answer), float(value.confidence))
    except ValueError:
        reply = None
    return RawReply(seconds, out["usage"]["prompt_tokens"], reply)


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


def close(model: Backend) -> None:
    """Stop the model's decoder and free it, before another mode loads the model again."""
    decoder = engine(model)
    for key, each in list(local_backends._decoders.items()):
        if each is decoder:
            del local_backends._decoders[key]
    decoder.close()


async def decide(model: Backend, call: Call, settings: Settings) -> Verdict | BaseException:
    try:
        return await juror(model, call, settings).decide(call.view)
    except AgoraError as exc:
        return exc


async def together(
    model: Backend, groups: Sequence[Sequence[Call]], settings: Settings, in_flight: int | None = None
) -> Result:
    """Each group's calls gathered, ``in_flight`` groups at a time (all of them when None), from an empty cache."""
    clear(model)
    gate = asyncio.Semaphore(in_flight or len(groups))

    async def group(calls: Sequence[Call]) -> list[Verdict | BaseException]:
        async with gate:
            return list(await asyncio.gather(*(decide(model, c, settings) for c in calls)))

    before = engine(model).evaluated
    start = time.perf_counter()
    done = await asyncio.gather(*(group(g) for g in groups))
    seconds = time.perf_counter() - start
    calls = [c for g in groups for c in g]
    return Result(calls, [v for g in done for v in g], seconds, engine(model).evaluated - before)


async def one_by_one(model: Backend, calls: Sequence[Call], settings: Settings, empty_each: bool) -> Result:
    """The calls one after another; the cache emptied before the first, or before each with ``empty_each``."""
    clear(model)
    before = engine(model).evaluated
    outcomes: list[Verdict | BaseException] = []
    per_call = []
    for call in calls:
        if empty_each:
            clear(model)
        start = time.perf_counter()
        outcomes.append(await decide(model, call, settings))
        per_call.append(time.perf_counter() - start)
    return Result(list(calls), outcomes, sum(per_call), engine(model).evaluated - before, per_call)


# -- the run


@dataclass
class Row:
    case: str
    result: Result
    base: float  # wall time of one verdict on the same path
    identical: str = "-"


def identical(result: Result, alone: dict[tuple[str, str, str], Verdict | BaseException]) -> str:
    n = sum(
        isinstance(v, Verdict) and isinstance(alone.get(c.ref), Verdict) and same(v, alone[c.ref])  # type: ignore[arg-type]
        for c, v in zip(result.calls, result.outcomes, strict=True)
    )
    return f"{n}/{len(result.calls)}"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def raw_phase(path: Path, cases: dict[str, list[list[Call]]], settings: Settings, threads: int) -> dict[str, Any]:
    import llama_cpp

    llama = llama_cpp.Llama(model_path=str(path), n_ctx=N_CTX, n_threads=threads, verbose=False)
    prompter = LocalBackend(path, path.stem)
    warm = Call(cases["8"][0][0].seat, View("Warm-up: is 1 + 1 equal to 2?", ("yes", "no")), "warm-up")
    raw_call(llama, prompter, warm, settings)
    out: dict[str, Any] = {}
    for name, groups in cases.items():
        log(f"raw: {name}")
        out[name] = [raw_call(llama, prompter, c, settings) for g in groups for c in g]
    llama.close()
    return out


async def agora_phase(
    model: Backend, cases: dict[str, list[list[Call]]], settings: Settings, layouts: bool
) -> dict[str, Any]:
    warm = cases["8"][0][0]
    await decide(model, Call(warm.seat, View("Warm-up: is 1 + 1 equal to 2?", ("yes", "no")), "warm-up"), settings)
    out: dict[str, Any] = {}
    for name in ("1", "3", "8", "transcript"):
        log(f"{model.spec}: {name} together")
        out[name] = await together(model, cases[name], settings)
    log(f"{model.spec}: jury")
    out["jury"] = await together(model, cases["jury"], settings, CONCURRENCY)
    log(f"{model.spec}: transcript one at a time")
    out["transcript kept"] = await one_by_one(model, cases["transcript"][0], settings, empty_each=False)
    if layouts:
        log(f"{model.spec}: jury, persona_first")
        out["persona_first"] = await together(model, cases["persona_first"], settings, CONCURRENCY)
    # each juror alone, the cache emptied before each call: the reference replies
    refs: dict[tuple[str, str, str], Call] = {}
    for name in ("8", "jury", "transcript"):
        for call in (c for g in cases[name] for c in g):
            refs.setdefault(call.ref, call)
    log(f"{model.spec}: {len(refs)} calls alone")
    alone = await one_by_one(model, list(refs.values()), settings, empty_each=True)
    out["alone"] = {c.ref: v for c, v in zip(alone.calls, alone.outcomes, strict=True)}
    out["alone seconds"] = {c.ref: s for c, s in zip(alone.calls, alone.per_call, strict=True)}
    out["transcript alone"] = Result(
        cases["transcript"][0],
        [out["alone"][c.ref] for c in cases["transcript"][0]],
        sum(out["alone seconds"][c.ref] for c in cases["transcript"][0]),
    )
    close(model)
    return out


def fmt(x: float, digits: int = 1) -> str:
    return f"{x:.{digits}f}"


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

    start = time.perf_counter()
    log("raw llama-cpp-python")
    raw = raw_phase(path, {k: cases[k] for k in ("8", "jury", "transcript")}, settings, threads)
    log("agora fast")
    fast = asyncio.run(agora_phase(resolve_model(f"local:{args.model}", exact=False), cases, settings, layouts=True))
    log("agora exact")
    exact = asyncio.run(
        agora_phase(resolve_model(LocalBackend(path, args.model, exact=True)), cases, settings, layouts=False)
    )
    total = time.perf_counter() - start
    end_load = os.getloadavg()

    # -- throughput
    n = len(items)
    print(f"## Throughput ({args.model})\n")
    print(
        "| case | wall (s) | verdicts/s | prompt tokens evaluated | × one verdict | replies identical for a seed "
        "| failed |"
    )
    print("|---|---|---|---|---|---|---|")
    raw8 = raw["8"]
    raw_one = raw8[0].seconds
    raw_rows = [
        ("raw llama-cpp-python: 1 juror", raw8[:1]),
        ("raw: 3 jurors, one after another", raw8[:3]),
        ("raw: 8 jurors, one after another", raw8),
        (f"raw: {n} items × {JURY} jurors, one after another", raw["jury"]),
    ]
    for case, replies in raw_rows:
        seconds = sum(r.seconds for r in replies)
        ok = sum(r.reply is not None for r in replies)
        print(
            f"| {case} | {fmt(seconds)} | {fmt(ok / seconds, 3)} | {sum(r.prompt_tokens for r in replies)} | "
            f"{fmt(seconds / raw_one, 2)} | - | {len(replies) - ok} |"
        )
    notes: list[str] = []
    for mode, out in (("fast", fast), ("exact", exact)):
        one = out["1"].seconds
        rows = [
            (f"agora {mode}: 1 juror", out["1"]),
            (f"agora {mode}: 3 jurors together", out["3"]),
            (f"agora {mode}: 8 jurors together", out["8"]),
            (f"agora {mode}: {n} items × {JURY} jurors, {CONCURRENCY} items in flight", out["jury"]),
        ]
        for case, r in rows:
            print(
                f"| {case} | {fmt(r.seconds)} | {fmt(len(r.verdicts) / r.seconds, 3)} | {r.evaluated} | "
                f"{fmt(r.seconds / one, 2)} | {identical(r, out['alone'])} | {r.failed} |"
            )
            notes += check(f"agora {mode}: {case}", r, out["alone"])

    # -- shared transcript
    words = sum(len(t.text.split()) for t in TRANSCRIPT_TURNS)
    print(f"\n## {JURY} jurors on a shared transcript ({len(TRANSCRIPT_TURNS)} turns, {words} words)\n")
    print("| case | wall (s) | prompt tokens | prompt tokens evaluated | replies identical for a seed | failed |")
    print("|---|---|---|---|---|---|")
    replies = raw["transcript"]
    ok = sum(r.reply is not None for r in replies)
    print(
        f"| raw llama-cpp-python: three separate calls | {fmt(sum(r.seconds for r in replies))} | "
        f"{sum(r.prompt_tokens for r in replies)} | {sum(r.prompt_tokens for r in replies)} | - | {len(replies) - ok} |"
    )
    for mode, out in (("fast", fast), ("exact", exact)):
        for case, r in (
            ("together", out["transcript"]),
            ("three separate calls, kept prefixes reused", out["transcript kept"]),
            ("three separate calls, cache emptied before each", out["transcript alone"]),
        ):
            same_ = "(the reference)" if r is out["transcript alone"] else identical(r, out["alone"])
            print(
                f"| agora {mode}: {case} | {fmt(r.seconds)} | {r.prompt_tokens} | {r.evaluated} | {same_} | "
                f"{r.failed} |"
            )
            notes += check(f"agora {mode}: transcript, {case}", r, out["alone"])

    # -- layout
    print(f"\n## Judge prompt layout: {JURY} persona jurors × {n} items, agora fast, {CONCURRENCY} items in flight\n")
    print("| layout | wall (s) | prompt tokens | prompt tokens evaluated | juror accuracy | jury majority accuracy |")
    print("|---|---|---|---|---|---|")
    for layout, r in (("shared_first (the jury case above)", fast["jury"]), ("persona_first", fast["persona_first"])):
        right = sum(isinstance(v, Verdict) and v.choice == c.gold for c, v in zip(r.calls, r.outcomes, strict=True))
        majority = 0
        for i in range(n):
            votes = [
                v.choice
                for c, v in zip(r.calls, r.outcomes, strict=True)
                if c.key == f"item {i}" and isinstance(v, Verdict)
            ]
            majority += votes.count(items[i].gold) * 2 > len(votes) > 0
        print(
            f"| {layout} | {fmt(r.seconds)} | {r.prompt_tokens} | {r.evaluated} | {right}/{len(r.calls)} | "
            f"{majority}/{n} |"
        )
        notes += check(f"layout {layout}", r, {})

    # -- raw vs agora alone
    for mode, out in (("fast", fast), ("exact", exact)):
        both = [
            (reply.reply, out["alone"].get(c.ref))
            for name in ("8", "jury", "transcript")
            for c, reply in zip([c for g in cases[name] for c in g], raw[name], strict=True)
        ]
        matches = sum(
            isinstance(v, Verdict) and r is not None and r == (v.reasoning, v.choice, v.confidence) for r, v in both
        )
        notes.append(f"raw llama-cpp-python reply identical to agora {mode} alone: {matches}/{len(both)} calls")
    print("\n" + "\n".join(f"- {note}" for note in notes))
    print(
        f"- whole run {total / 60:.1f} min; load average at the end {end_load[0]:.2f} {end_load[1]:.2f} "
        f"{end_load[2]:.2f}"
    )


def check(case: str, r: Result, alone: dict[tuple[str, str, str], Verdict | BaseException]) -> list[str]:
    """Notes on a case: failures, evaluated rows that disagree with the usage, replies that differ from alone."""
    notes = [
        f"{case}: {c.seat.name} on {c.key} failed: {v!r}"
        for c, v in zip(r.calls, r.outcomes, strict=True)
        if not isinstance(v, Verdict)
    ]
    if r.rows is not None and not r.failed and r.rows != r.evaluated:
        notes.append(f"{case}: the decoder evaluated {r.rows} prompt rows, the calls' usage says {r.evaluated}")
    for c, v in zip(r.calls, r.outcomes, strict=True):
        ref = alone.get(c.ref)
        if isinstance(v, Verdict) and isinstance(ref, Verdict) and not same(v, ref):
            at = next((i for i, (x, y) in enumerate(zip(v.reasoning, ref.reasoning, strict=False)) if x != y), None)
            notes.append(
                f"{case}: {c.seat.name} on {c.key} differs from alone: answer {v.choice} vs {ref.choice}, "
                f"confidence {v.confidence:g} vs {ref.confidence:g}, reasoning differs from char "
                f"{at if at is not None else min(len(v.reasoning), len(ref.reasoning))}"
            )
    return notes


if __name__ == "__main__":
    main()
