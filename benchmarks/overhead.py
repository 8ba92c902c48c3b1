"""agora's own cost per model call against the plain loops it replaces, on a fake server that answers in a set time.

    .venv/bin/python benchmarks/overhead.py --items 1000 --latency 0.05 --in-flight 256
    .venv/bin/python benchmarks/overhead.py --executor ray     # agora run on a local Ray cluster too

The tests' fake OpenAI-compatible server runs in a process of its own, and every client runs in a fresh process of
its own, so that each one's CPU time and peak RSS are its own (``os.wait4``). The call pattern is that of
``benchmarks/overhead.yaml``: per item, a 3-round debate (6 text calls, one after another), then 3 juror calls at
once that ask for a JSON verdict; ``--in-flight`` items at a time. The clients:

- ``sdk-default``: the official ``openai`` SDK with its default transport (the loop most users write);
- ``sdk-aiohttp``: the same SDK with its aiohttp transport (``DefaultAioHttpClient``);
- ``lean``: one aiohttp session posting raw JSON;
- ``http``: agora's own HTTP client (``agora.backends.http.Pool``, the lean transport's) posting raw JSON;
- ``agora run benchmarks/overhead.yaml``; the same run again into a new directory (a finished identical run lies
  beside it, so its records are reused); and again with ``--fresh`` (executed, every reply from the response cache);
- with ``--executor ray``, ``agora run --executor ray --fresh`` on a local Ray cluster (its CPU is in the Ray
  workers, which are not the command's children: only its wall time compares);
- memory: ``agora run benchmarks/overhead-judge.yaml`` (one judge an item, 512 in flight) at 2,000 and at 20,000
  items: peak RSS of each, to show that it does not grow with the items.

Calls are counted by the server (its books), not by the clients. Ratios are against ``sdk-default`` in the same run.
CPU per call is the client process's user + system time over its calls, start-up and imports included; the
start-up alone (``agora --version``) is printed too.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "benchmarks" / "overhead.yaml"
JUDGE_SCENARIO = ROOT / "benchmarks" / "overhead-judge.yaml"
DEBATE_ROUNDS, DEBATERS, JURORS = 3, 2, 3
LOOPS = ("sdk-default", "sdk-aiohttp", "lean", "http")  # the plain loops, each a --child
VERDICT_SCHEMA = {
    "type": "object",
    "properties": {
        "reasoning": {"type": "string"},
        "answer": {"type": "string", "enum": ["A", "B"]},
        "confidence": {"type": "integer", "minimum": 0, "maximum": 100},
    },
    "required": ["reasoning", "answer", "confidence"],
}


@dataclass
class Measure:
    """One client's run: wall seconds, CPU seconds (user + system), peak RSS in MB, model calls the server saw."""

    name: str
    wall: float
    cpu: float
    rss_mb: float
    calls: int

    def row(self, baseline: Measure | None) -> str:
        per_call = f"{1000 * self.cpu / self.calls:.2f} ms" if self.calls else "-"
        ratio = f"{self.wall / baseline.wall:.2f}x" if baseline else "-"
        return f"| {self.name} | {self.wall:.1f} s | {ratio} | {per_call} | {self.rss_mb:.0f} MB | {self.calls:,} |"


# -- the plain loops (run in a child process: ``--child LOOP``)
def _messages(item: int, step: str) -> list[dict[str, str]]:
    system = "You are a debater. Argue for your assigned answer in at most 60 words."
    return [
        {"role": "system", "content": system},
        {"role": "user", "content": f"Question {item}: is claim {item} true? Answers: A) yes B) no. Turn: {step}."},
    ]


def _juror_request(item: int, juror: int) -> dict[str, Any]:
    return {
        "messages": _messages(item, f"juror {juror}: give your verdict as JSON"),
        "response_format": {"type": "json_schema", "json_schema": {"name": "verdict", "schema": VERDICT_SCHEMA}},
        "max_tokens": 256,
        "temperature": 0,
        "seed": juror,
    }


def _debater_request(item: int, turn: int) -> dict[str, Any]:
    return {"messages": _messages(item, f"debater {turn % DEBATERS} round {turn // DEBATERS + 1}"), "max_tokens": 120}


async def _item(call: Any, item: int) -> None:
    """One item's calls: the debate's turns in order, then the jurors at once; each verdict parsed."""
    for turn in range(DEBATE_ROUNDS * DEBATERS):
        await call(_debater_request(item, turn))
    replies = await asyncio.gather(*(call(_juror_request(item, j)) for j in range(JURORS)))
    for reply in replies:
        verdict = json.loads(reply)
        if verdict["answer"] not in ("A", "B"):
            raise ValueError(f"item {item}: bad verdict {verdict}")


async def _drive(call: Any, items: int, in_flight: int) -> None:
    gate = asyncio.Semaphore(in_flight)

    async def one(item: int) -> None:
        async with gate:
            await _item(call, item)

    await asyncio.gather(*(one(i) for i in range(items)))


async def _sdk_loop(url: str, items: int, in_flight: int, transport: str) -> None:
    import openai

    http = openai.DefaultAioHttpClient() if transport == "aiohttp" else openai.DefaultAsyncHttpxClient()
    async with openai.AsyncOpenAI(base_url=url, api_key="none", max_retries=0, http_client=http) as client:

        async def call(request: dict[str, Any]) -> str:
            reply = await client.chat.completions.create(model="fake", **request)
            return reply.choices[0].message.content or ""

        await _drive(call, items, in_flight)


async def _lean_loop(url: str, items: int, in_flight: int) -> None:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=in_flight * JURORS)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def call(request: dict[str, Any]) -> str:
            async with session.post(f"{url}/chat/completions", json={"model": "fake", **request}) as response:
                response.raise_for_status()
                body = await response.json()
            return str(body["choices"][0]["message"]["content"])

        await _drive(call, items, in_flight)


async def _http_loop(url: str, items: int, in_flight: int) -> None:
    from agora.backends.http import Pool

    pool = Pool(f"{url}/chat/completions", {"Authorization": "Bearer none"}, size=in_flight * JURORS)

    async def call(request: dict[str, Any]) -> str:
        reply = await pool.post(json.dumps({"model": "fake", **request}).encode(), timeout=60)
        if reply.status != 200:
            raise RuntimeError(f"HTTP {reply.status}: {reply.body[:200]!r}")
        return str(json.loads(reply.body)["choices"][0]["message"]["content"])

    await _drive(call, items, in_flight)
    await pool.aclose()


def child(loop: str, url: str, items: int, in_flight: int) -> None:
    """Run one plain loop in this process."""
    if loop == "lean":
        asyncio.run(_lean_loop(url, items, in_flight))
    elif loop == "http":
        asyncio.run(_http_loop(url, items, in_flight))
    else:
        asyncio.run(_sdk_loop(url, items, in_flight, loop.removeprefix("sdk-")))


# -- the parent: server, children, table
class Server:
    """The tests' fake server in a process of its own."""

    def __init__(self, latency: float) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.fixtures.fake_server", "--latency", str(latency)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().strip()
        if not self.url.startswith("http"):
            raise SystemExit(f"the fake server did not start: {self.url!r}")

    def calls(self) -> int:
        """Chat requests answered so far."""
        with urllib.request.urlopen(self.url.removesuffix("/v1") + "/_books") as reply:
            books = json.load(reply)
        return int(sum(books["totals"].values()))

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait()


def measure(name: str, command: list[str], server: Server, env: dict[str, str] | None = None) -> Measure:
    """Run ``command`` as a child; its wall time, CPU time and peak RSS, and the calls the server saw meanwhile."""
    before = server.calls()
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode not in (0, 1):  # agora run exits 1 when some tasks failed; the records say which
        assert process.stderr is not None
        raise SystemExit(f"{name} failed ({process.returncode}): {process.stderr.read().decode()[-2000:]}")
    rss_mb = usage.ru_maxrss / 1024  # kilobytes on Linux
    return Measure(name, wall, usage.ru_utime + usage.ru_stime, rss_mb, server.calls() - before)


def write_items(directory: Path, n: int) -> None:
    """``n`` synthetic two-answer items in ``directory/overhead.jsonl``."""
    with (directory / "overhead.jsonl").open("w") as file:
        for i in range(n):
            row = {"id": f"q{i}", "question": f"Is claim {i} true?", "answers": ["Yes.", "No."], "gold": i % 2}
            file.write(json.dumps(row) + "\n")


def errors_in(run: Path) -> int:
    """Tasks of a run directory that ended in an error."""
    return sum(json.loads(line)["status"] != "ok" for line in (run / "results.jsonl").open())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.05, help="the server's seconds before each reply")
    parser.add_argument("--in-flight", type=int, default=256, help="items in flight at once")
    parser.add_argument("--memory", default="2000,20000", help="the item counts of the memory pair ('' skips it)")
    parser.add_argument("--executor", choices=["local", "ray"], default="local", help="ray: agora run on Ray too")
    parser.add_argument("--skip-loops", action="store_true", help="run agora only")
    parser.add_argument("--child", choices=LOOPS, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.url, args.items, args.in_flight)
        return

    agora = [str(Path(sys.executable).with_name("agora"))]
    server = Server(args.latency)
    work = Path(tempfile.mkdtemp(prefix="agora-overhead-"))
    env = {**os.environ, "AGORA_DATA": str(work)}
    write_items(work, args.items)  # each run reads (and checks) a data file of its own size
    model = f"openai:fake@{server.url}"
    rows: list[Measure] = []
    try:
        if not args.skip_loops:
            for loop in LOOPS:
                command = [sys.executable, __file__, "--child", loop, "--url", server.url]
                command += ["--items", str(args.items), "--in-flight", str(args.in_flight)]
                rows.append(measure(loop, command, server))
                print(rows[-1].row(rows[0]), flush=True)
        run = [*agora, "run", str(SCENARIO), "--model", model, "--limit", str(args.items)]
        run += ["--concurrency", str(args.in_flight)]
        baseline = None if args.skip_loops else rows[0]
        cached = {**env, "AGORA_CACHE_DIR": str(work / "cache")}  # one response cache for the local runs
        local = (
            ("agora run", "run", []),
            ("agora run again (a finished identical run: its records reused)", "again", []),
            ("agora run --fresh again (every reply from the response cache)", "fresh", ["--fresh"]),
        )
        for name, out, extra in local:
            rows.append(measure(name, [*run, *extra, "--out", str(work / out)], server, cached))
            print(rows[-1].row(baseline), f"errors: {errors_in(work / out)}", flush=True)
        if args.executor == "ray":  # a cache of its own, and --fresh: the local run beside it would be reused
            ray = [*run, "--executor", "ray", "--fresh", "--out", str(work / "ray")]
            rows.append(
                measure(
                    "agora run --executor ray (local cluster)",
                    ray,
                    server,
                    {**env, "AGORA_CACHE_DIR": str(work / "cache-ray")},
                )
            )
            print(rows[-1].row(baseline), f"errors: {errors_in(work / 'ray')}", flush=True)
        start = measure("start-up", [sys.executable, "-c", "import agora.cli.runs, agora.runner.run"], server)
        print(f"start-up (importing what agora run imports): {start.wall:.2f} s, {start.cpu:.2f} s CPU", flush=True)
        for n in (int(n) for n in args.memory.split(",") if n):
            (work / str(n)).mkdir()
            write_items(work / str(n), n)
            judge = [*agora, "run", str(JUDGE_SCENARIO), "--model", model, "--limit", str(n)]
            judge += ["--out", str(work / f"judge-{n}")]
            rows.append(
                measure(
                    f"one judge, {n:,} items, 512 in flight", judge, server, env | {"AGORA_DATA": str(work / str(n))}
                )
            )
            print(rows[-1].row(None), flush=True)
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)

    print(
        f"\n{platform.node()}: {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{args.items:,} items, {args.in_flight} in flight, server latency {args.latency * 1000:.0f} ms\n"
    )
    print("| client | wall | vs default SDK | CPU per call | peak RSS | calls |")
    print("|---|---|---|---|---|---|")
    baseline = None if args.skip_loops else rows[0]
    for row in rows:
        print(row.row(None if row.name.startswith("one judge") else baseline))  # the memory pair has no loop twin


if __name__ == "__main__":
    main()
