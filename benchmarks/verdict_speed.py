"""Seconds per verdict and accuracy of the embedded models on TruthfulQA pairs.

    .venv/bin/python benchmarks/verdict_speed.py --limit 10

Each installed catalogue model judges the same pairs (best answer vs best incorrect answer, order
shuffled with a fixed seed), in-process through llama.cpp with schema-constrained output. Ratios are
against SmolLM2-135M measured in the same run. Reads truthfulqa.csv from the data that ships with agora
(or ``$AGORA_DATA``).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import random
import statistics
import time

from agora.agents.judge import Judge
from agora.backends import resolve_model
from agora.errors import VerdictParseError
from agora.paths import data_dir
from agora.types import Settings
from agora.weights import CATALOGUE

DATA = data_dir() / "truthfulqa.csv"
BASELINE = "smollm2-135m"


def pairs(limit: int, seed: int) -> list[tuple[str, list[str], int]]:
    rng = random.Random(seed)
    out = []
    with DATA.open(newline="") as f:
        for row in list(csv.DictReader(f))[:limit]:
            answers = [row["Best Answer"], row["Best Incorrect Answer"]]
            correct = 0
            if rng.random() < 0.5:
                answers.reverse()
                correct = 1
            out.append((row["Question"], answers, correct))
    return out


async def measure(name: str, items: list[tuple[str, list[str], int]]) -> dict[str, float]:
    judge = Judge(resolve_model(f"local:{name}"), settings=Settings(max_tokens=512, seed=0))
    await judge.judge("Warm-up: is 1 + 1 equal to 2?", ["yes", "no"])  # model load is not a verdict
    seconds, tokens, correct, failed = [], 0, 0, 0
    for question, answers, gold in items:
        start = time.perf_counter()
        try:
            verdict = await judge.judge(question, answers)
        except VerdictParseError:
            failed += 1
            continue
        seconds.append(time.perf_counter() - start)
        tokens += verdict.usage.completion_tokens
        correct += verdict.choice == gold
    return {
        "s_per_verdict": statistics.median(seconds) if seconds else float("nan"),
        "gen_tok_per_s": tokens / sum(seconds) if seconds else float("nan"),
        "accuracy": correct / len(items),
        "parse_failures": failed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not DATA.is_file():
        raise SystemExit(f"benchmark needs {DATA} (the shared data folder beside the repo)")
    items = pairs(args.limit, args.seed)
    installed = [m.name for m in CATALOGUE.values() if not m.missing_parts()]
    results = {name: asyncio.run(measure(name, items)) for name in installed}
    base = results.get(BASELINE, {}).get("s_per_verdict")
    print(f"{len(items)} TruthfulQA pairs, seed {args.seed}")
    print("| model | s/verdict (median) | × SmolLM2 | generated tok/s | accuracy | parse failures |")
    print("|---|---|---|---|---|---|")
    for name, r in results.items():
        ratio = f"{r['s_per_verdict'] / base:.1f}" if base else "-"
        print(
            f"| {name} | {r['s_per_verdict']:.2f} | {ratio} | {r['gen_tok_per_s']:.1f} | "
            f"{r['accuracy']:.0%} | {r['parse_failures']} |"
        )


if __name__ == "__main__":
    main()
