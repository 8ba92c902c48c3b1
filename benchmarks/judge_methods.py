"""Accuracy and cost of agora's judging methods with one model, on LLMBar Natural and EvalBiasBench.

    .venv/bin/python benchmarks/judge_methods.py --limit 100
    .venv/bin/python benchmarks/judge_methods.py --limit 20 --methods direct,swap,checklist   # a shorter run
    .venv/bin/python benchmarks/judge_methods.py --data llmbar --pairs 1-20,61-100 --methods direct,tuned
    .venv/bin/python benchmarks/judge_methods.py --summarise benchmarks/results/judge_methods.jsonl   # no model

Every method judges the same pairs (LLMBar Natural in file order; EvalBiasBench with its answers shuffled per item,
seeded) through ``direct_qa`` with the method's judging seat, ``--concurrency`` items in flight (the embedded
decoder batches their calls). Methods:

- direct: one judge picks a letter after its reasoning (the baseline);
- no-reasoning: one judge names the letter at once (``--no-reasoning``), with logprobs: its confidence here is the
  model's probability of that letter;
- no-reasoning+swap: the same in both answer orders, the orders' probabilities averaged;
- swap: the same judge on both answer orders, a position-inconsistent pair undecided (with ``--logprobs``, the
  orders' probabilities of each answer averaged instead);
- samples=K: K samples at ``--sample-temperature``, each its own seed, the majority, agreement as confidence;
- checklist: yes/no questions written once per item, each answer graded on them;
- rubric: ``rubrics/instruction-following.yaml`` scored per answer, weighted;
- cascade: direct, escalated to a 3-juror checklist jury when its confidence is below ``--accept``;
- cascade-probability: no-reasoning+swap, its juror abstaining below the averaged probability
  ``--accept-probability``, escalated to direct (the same requests as those two methods, so their cached replies);
- tuned: a judge with the persona ``--tuned PATH`` (written by ``agora tune`` on items that are not these:
  ``--pairs`` keeps the benchmark off the pairs it was tuned on).
- reference: not run: neither data set carries a reference answer.

Accuracy counts an undecided item as wrong (95% bootstrap interval); coverage is the share decided; selective
accuracy is accuracy over the decided items. "At half" is the accuracy of the most confident half of the items
(the items tied at the cut kept, so its coverage may be above 0.5): a decision's confidence is its juror's token
probability where the backend gave one, else its stated confidence. That cut is chosen on the items it is measured
on, so it flatters; "cross-fitted" is the honest figure: the confidence threshold that keeps half the items or more
is fitted on one half of the items and applied to the other, both ways, and the kept items pooled
(``agora.metrics.accuracy.cross_fitted``). The summary compares the best method's selective accuracy at coverage 0.5
or more (its own, or its cross-fitted threshold's) against direct's accuracy. Calls and tokens are per item, every
call of the method counted (re-asks included), whether the model made it or the response cache served it. Replies are
kept in a response cache (``--cache``, by default the shared ``$AGORA_CACHE_DIR/responses.sqlite``), so a run
stopped part-way, or a larger ``--limit``, only calls the model for what is new; the wall time covers only this
run's calls, and the log says how many were served from the cache. No timings are asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import sys
import time
from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from agora import meter
from agora.agents.juror import Juror, juror_seed
from agora.backends import Backend, resolve_model
from agora.backends.base import Wrapper
from agora.errors import AgoraError
from agora.items import Item
from agora.loaders import Source, read
from agora.methods import Direct, Form, form_of
from agora.metrics.accuracy import Outcome, accuracy, cross_fitted, selective
from agora.metrics.paired import paired
from agora.metrics.types import Estimate
from agora.paths import cache_dir, data_dir
from agora.personas import load_persona
from agora.protocols import Jury, direct_qa
from agora.runner.cache import Cached, ResponseCache
from agora.types import Completion, Message, OutputSchema, Settings
from agora.weights import DEFAULT_MODEL

ROOT = Path(__file__).resolve().parents[1]
RUBRIC = ROOT / "rubrics" / "instruction-following.yaml"
METHODS = (
    "direct",
    "no-reasoning",
    "no-reasoning+swap",
    "swap",
    "samples",
    "checklist",
    "rubric",
    "cascade",
    "cascade-probability",
    "tuned",
)

HEADER = (
    "| data | method | pairs | accuracy [95% CI] | coverage | selective accuracy | at half (coverage) "
    "| cross-fitted [95% CI] (coverage) | calls/item | tokens/item | wall (s) | failed | decided at |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


@dataclass(frozen=True)
class Options:
    model: Backend
    settings: Settings
    samples: int
    sample_temperature: float
    accept: float
    accept_probability: float
    tuned: Path | None
    logprobs: bool


@dataclass
class Scored:
    """One method on one data set: each item's outcome and cost."""

    outcomes: list[Outcome]
    ids: list[str] = field(default_factory=list)  # the items' ids, in the order of ``outcomes``
    calls: int = 0
    tokens: int = 0
    failed: int = 0
    cached: int = 0
    seconds: float = 0.0
    stages: list[int] | None = None
    billed: bool = True  # False when read back from an outcomes file, which keeps no cost


_bill: ContextVar[Scored | None] = ContextVar("bill", default=None)


class Billed(Wrapper):
    """Counts every completion a method receives, from the model or the response cache, to the ``Scored`` being
    filled: a method's cost is the same whether its replies were made now or served from the cache."""

    async def complete(
        self, messages: Sequence[Message], settings: Settings, schema: OutputSchema | None = None
    ) -> Completion:
        completion = await self.inner.complete(messages, settings, schema)
        bill = _bill.get()
        if bill is not None:
            bill.calls += 1
            bill.tokens += completion.usage.prompt_tokens + completion.usage.completion_tokens
        return completion


def positions(spec: str) -> set[int]:
    """The 1-based positions ``--pairs`` names: ``1-20,61-100``."""
    chosen: set[int] = set()
    for part in spec.split(","):
        first, _, last = part.strip().partition("-")
        try:
            chosen.update(range(int(first), int(last or first) + 1))
        except ValueError:
            raise SystemExit(f"--pairs: {part.strip()!r} is not N or N-M") from None
    return chosen


def items(name: str, limit: int, seed: int) -> list[Item]:
    """The first ``limit`` usable pairs of a data set."""
    if name == "llmbar":
        source = Source(loader="llmbar", path=data_dir() / "llmbar_natural.json", limit=limit)
    else:
        source = Source(
            loader="evalbiasbench", path=data_dir() / "evalbiasbench.json", limit=limit, shuffle=True, seed=seed
        )
    return [row for row in read(source) if isinstance(row, Item)]


def juror(opt: Options, name: str, form: Form | None = None, seeded_as: str | None = None, **kwargs: Any) -> Juror:
    """A juror of the benchmark's model, seeded by its name (or by ``seeded_as``: the same requests as that juror)."""
    seed = juror_seed(opt.settings.seed, seeded_as or name)
    settings = kwargs.pop("settings", opt.settings)
    persona = kwargs.pop("persona", None)
    logprobs = kwargs.pop("logprobs", opt.logprobs)
    return Juror(
        opt.model, persona, name=name, settings=replace(settings, seed=seed), form=form, logprobs=logprobs, **kwargs
    )


def seat(method: str, opt: Options) -> Any:
    """The judging seat of ``method``: a one-juror jury (its decision is the juror's verdict), or a cascade."""
    if method == "direct":
        return Jury([juror(opt, "judge")])
    if method == "no-reasoning":
        return Jury([juror(opt, "judge", Direct(reasoning=False), logprobs=True)])
    if method == "no-reasoning+swap":
        return Jury([juror(opt, "judge", Direct(reasoning=False), logprobs=True, swap=True)])
    if method == "swap":
        return Jury([juror(opt, "judge", swap=True)])
    if method == "samples":
        hot = replace(opt.settings, temperature=opt.sample_temperature)
        return Jury([juror(opt, "judge", samples=opt.samples, settings=hot)])
    if method == "checklist":
        return Jury([juror(opt, "judge", form_of(None, None, True, None))])
    if method == "rubric":
        return Jury([juror(opt, "judge", form_of(None, RUBRIC, False, None))])
    if method == "tuned":
        assert opt.tuned is not None
        return Jury([juror(opt, "judge", persona=load_persona(str(opt.tuned)))])
    if method == "cascade":
        from agora.methods.checklist import Checklists
        from agora.protocols.cascade import Cascade, Stage

        book = Checklists()
        panel = [juror(opt, f"checker_{i + 1}", form_of(None, None, True, book)) for i in range(3)]
        return Cascade([Stage(Jury([juror(opt, "judge")]), opt.accept), Stage(Jury(panel), 0.0)])
    if method == "cascade-probability":
        from agora.aggregation.thresholds import Thresholds
        from agora.protocols.cascade import Cascade, Stage

        quick = juror(opt, "judge", Direct(reasoning=False), logprobs=True, swap=True)
        unsure = Thresholds(min_probability=opt.accept_probability)
        deep = juror(opt, "deep", seeded_as="judge")
        return Cascade([Stage(Jury([quick], policy=unsure), 0.0), Stage(Jury([deep]), 0.0)])
    raise SystemExit(f"unknown method {method!r}")


async def score(method: str, pairs: Sequence[Item], opt: Options, in_flight: int) -> Scored:
    graph = direct_qa(seat(method, opt))
    gate = asyncio.Semaphore(in_flight)
    result = Scored(
        [None] * len(pairs), [item.id for item in pairs], stages=[] if method.startswith("cascade") else None
    )
    _bill.set(result)  # the items' tasks, created below, inherit it

    async def one(index: int, item: Item) -> None:
        counted = meter.Meter()
        async with gate:
            with meter.metering(counted):
                try:
                    state = await graph.ainvoke(item.state())
                except AgoraError as exc:
                    result.failed += 1
                    log(f"{method}: {item.id} failed: {type(exc).__name__}: {exc}")
                    state = None
        result.calls += counted.failed
        result.cached += counted.cached
        if state is None:
            return
        decision = state["decision"]
        if isinstance(decision.outcome, int):
            verdicts = state.get("verdicts") or []
            known = [v.probability for v in verdicts if v.probability is not None]
            confidence = 100 * known[0] if len(verdicts) == 1 and known else decision.confidence or 0.0
            result.outcomes[index] = (confidence, decision.outcome == item.gold)
        if result.stages is not None and decision.stage is not None:
            result.stages.append(decision.stage)

    start = time.perf_counter()
    await asyncio.gather(*(one(i, item) for i, item in enumerate(pairs)))
    result.seconds = time.perf_counter() - start
    return result


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def at_half(outcomes: Sequence[Outcome]) -> tuple[float | None, float | None]:
    """(coverage, selective accuracy) of the most confident half of the items, those tied at the cut kept."""
    for threshold in sorted({o[0] for o in outcomes if o is not None}, reverse=True):
        coverage, kept = selective(outcomes, threshold)
        if coverage is not None and coverage >= 0.5:
            return coverage, kept
    return selective(outcomes, 0.0) if outcomes else (0.0, None)  # fewer than half decided: all of them


@dataclass(frozen=True)
class Row:
    """A method's figures on one data set: accuracy, its own coverage and selective accuracy, and the coverage and
    selective accuracy of a confidence threshold keeping half the items or more, fitted out of fold."""

    method: str
    accuracy: float | None
    coverage: float
    selective: float | None
    fitted_coverage: float
    fitted: float | None
    rights: dict[str, bool]  # item id -> right (an undecided item is not)

    def best_at_half_or_more(self) -> tuple[float, float] | None:
        """(selective accuracy, coverage): the better of the method's own and its cross-fitted threshold's."""
        points = [(self.selective, self.coverage), (self.fitted, self.fitted_coverage)]
        kept = [(a, c) for a, c in points if a is not None and c >= 0.5]
        return max(kept, default=None)


def row(data: str, method: str, s: Scored) -> Row:
    n = len(s.outcomes)
    acc = accuracy(s.outcomes)
    decided = [o for o in s.outcomes if o is not None]
    coverage = len(decided) / n if n else 0.0
    chosen = sum(o[1] for o in decided) / len(decided) if decided else None
    half_coverage, half = at_half(s.outcomes)
    fitted_coverage, fitted = cross_fitted(s.outcomes)
    cost = f"{s.calls / n:.1f} | {s.tokens / n:.0f} | {s.seconds:.0f} | {s.failed}" if s.billed else "- | - | - | -"
    stages = ""
    if s.stages is not None:
        stages = ", ".join(f"stage {k}: {s.stages.count(k)}" for k in sorted(set(s.stages)))
    print(
        f"| {data} | {method} | {n} | {_estimate(acc)} | {coverage:.2f} | {'-' if chosen is None else f'{chosen:.2f}'} "
        f"| {'-' if half is None else f'{half:.2f}'} ({half_coverage or 0:.2f}) | {_estimate(fitted)} "
        f"({fitted_coverage:.2f}) | {cost} | {stages or '-'} |",
        flush=True,
    )
    rights = {i: o is not None and o[1] for i, o in zip(s.ids, s.outcomes, strict=True)}
    return Row(method, acc.value, coverage, chosen, fitted_coverage, fitted.value, rights)


def _estimate(e: Estimate) -> str:
    if e.value is None:
        return "-"
    interval = f" [{e.low:.2f}, {e.high:.2f}]" if e.low is not None and e.high is not None else ""
    return f"{e.value:.2f}{interval}"


def read_outcomes(path: Path) -> dict[tuple[str, str], Scored]:
    """An ``--outcomes`` file's items, by data set and method, in file order (a later line for an item replaces an
    earlier one, so files of several runs can be concatenated)."""
    by_item: dict[tuple[str, str], dict[str, Outcome]] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        try:
            entry = json.loads(line)
            outcome = entry["outcome"]
            key, item = (entry["data"], entry["method"]), entry["item"]
        except (ValueError, KeyError, TypeError) as exc:
            raise SystemExit(f"{path}:{number}: not an outcome line ({exc})") from None
        by_item.setdefault(key, {})[item] = None if outcome is None else (float(outcome[0]), bool(outcome[1]))
    return {key: Scored(list(items.values()), list(items), billed=False) for key, items in by_item.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=f"local:{DEFAULT_MODEL}")
    parser.add_argument("--limit", type=int, default=100, help="pairs per data set")
    parser.add_argument("--pairs", help="only these 1-based positions of the first --limit pairs: 1-20,61-100")
    parser.add_argument("--data", default="llmbar,evalbiasbench")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--sample-temperature", type=float, default=0.7)
    parser.add_argument("--accept", type=float, default=90.0, help="the cascade's first-stage accept_confidence")
    parser.add_argument(
        "--accept-probability", type=float, default=0.8, help="cascade-probability: the first stage's min_probability"
    )
    parser.add_argument("--tuned", type=Path, help="a persona written by agora tune on other items")
    parser.add_argument(
        "--logprobs",
        action="store_true",
        help="jurors ask for token log-probabilities: a verdict carries the "
        "probability of its letter, and swap averages the two orders' probabilities instead of leaving a "
        "position-inconsistent pair undecided",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", type=Path, default=cache_dir() / "responses.sqlite", help="the response cache")
    parser.add_argument("--no-cache", action="store_true", help="call the model for every reply")
    parser.add_argument("--outcomes", type=Path, help="append each item's outcome here, a JSON line each")
    parser.add_argument(
        "--summarise",
        type=Path,
        metavar="OUTCOMES",
        help="call no model: print the table from an --outcomes file (its figures, without the cost)",
    )
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args()
    if args.summarise:
        read = read_outcomes(args.summarise)
        print(HEADER)
        summary: dict[str, list[Row]] = {}
        for (data, method), scored in read.items():
            summary.setdefault(data, []).append(row(data, method, scored))
        print_verdicts(summary)
        return

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    if "tuned" in methods and args.tuned is None:
        methods.remove("tuned")
        log("tuned: skipped (no --tuned persona)")
    settings = Settings(seed=args.seed, timeout=args.timeout)
    model: Backend = resolve_model(args.model)
    if not args.no_cache:
        model = Cached(model, ResponseCache(args.cache))
    opt = Options(
        Billed(model),
        settings,
        args.samples,
        args.sample_temperature,
        args.accept,
        args.accept_probability,
        args.tuned,
        args.logprobs,
    )
    load = os.getloadavg()
    print(f"`{shlex.join([sys.executable, *sys.argv])}`\n")
    print(
        f"{time.strftime('%Y-%m-%d %H:%M')}; {os.cpu_count()} cores; load average before starting {load[0]:.2f} "
        f"{load[1]:.2f} {load[2]:.2f}; model {args.model}; {args.limit} pairs per data set, seed {args.seed}\n",
        flush=True,
    )
    print(HEADER)
    summary = {}
    for data in [d.strip() for d in args.data.split(",") if d.strip()]:
        pairs = items(data, args.limit, args.seed)
        if args.pairs:
            kept = positions(args.pairs)
            pairs = [item for k, item in enumerate(pairs, 1) if k in kept]
        for method in methods:
            label = f"samples={args.samples}" if method == "samples" else method
            scored = asyncio.run(score(method, pairs, opt, args.concurrency))
            log(f"{data}: {label}: done in {scored.seconds:.0f} s, {scored.cached} replies from the cache")
            summary.setdefault(data, []).append(row(data, label, scored))
            if args.outcomes:
                with args.outcomes.open("a") as out:
                    for item, outcome in zip(pairs, scored.outcomes, strict=True):
                        line = {"data": data, "method": label, "item": item.id, "outcome": outcome}
                        out.write(json.dumps(line) + "\n")
    print_verdicts(summary)


def print_verdicts(summary: dict[str, list[Row]]) -> None:
    """For each data set, each method's accuracy paired against direct's on the same items, and the best method at
    coverage 0.5 or more against direct's accuracy."""
    verdicts: list[str] = []
    for data, rows in summary.items():
        base = next((r for r in rows if r.method == "direct"), None)
        if base is None or base.accuracy is None:
            continue
        for r in rows:
            if r is not base:
                p = paired(r.rights, base.rights, a=r.method, b="direct", judge=data)
                d = p.difference
                interval = f" [{d.low:+.2f}, {d.high:+.2f}]" if d.low is not None and d.high is not None else ""
                verdicts.append(
                    f"{data}: {r.method} - direct, paired on {d.n} items: {d.value or 0:+.2f}{interval}; right only "
                    f"under {r.method} {p.a_only}, only under direct {p.b_only}; McNemar p = {p.mcnemar_p or 1:.3g}"
                )
        points = [(point, r) for r in rows if r.method != "direct" and (point := r.best_at_half_or_more())]
        if points:
            (best, coverage), r = max(points, key=lambda p: p[0])
            verdicts.append(
                f"{data}: best method at coverage >= 0.5 is {r.method} (selective accuracy {best:.2f} at coverage "
                f"{coverage:.2f}; accuracy {r.accuracy or 0:.2f}) against direct's accuracy {base.accuracy:.2f} "
                f"(selective {base.selective or 0:.2f} at coverage {base.coverage:.2f}; cross-fitted "
                f"{base.fitted or 0:.2f} at coverage {base.fitted_coverage:.2f}): "
                f"{100 * (best - base.accuracy):+.1f} points over direct's accuracy"
            )
    print("\n" + "\n".join(f"- {v}" for v in verdicts))


if __name__ == "__main__":
    main()
