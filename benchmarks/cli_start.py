"""Start-up time of the ``agora`` command line: ``agora --help`` against bare Python and ``import typer``.

    .venv/bin/python benchmarks/cli_start.py --repeat 10

Each command runs as a fresh subprocess ``--repeat`` times (after one warm-up round that fills the OS file cache and
the bytecode cache), the commands taking turns; the median wall time is reported, with the ratios to the two
baselines measured in the same run.
Bytecode is cached in a temporary ``PYTHONPYCACHEPREFIX`` (as for an installed package, even where
``PYTHONDONTWRITEBYTECODE`` is set); ``--as-is`` keeps the environment as it is instead.
The console script is ``agora`` beside this interpreter (``.venv/bin/agora``), else ``python -m agora``. For scale,
the help of a one-command typer app is timed too: typer renders help with rich, which it imports for that.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HELLO = """
import typer

app = typer.Typer(add_completion=False)


@app.command()
def hello(name: str = "world") -> None:
    \"\"\"Say hello.\"\"\"


app()
"""


def agora_command() -> list[str]:
    """The console script beside this interpreter, else the module."""
    script = Path(sys.executable).with_name("agora")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "agora"]


def seconds(command: list[str], env: dict[str, str]) -> float:
    """The wall time of one run of ``command``; it must exit 0."""
    start = time.perf_counter()
    subprocess.run(command, capture_output=True, check=True, env=env)
    return time.perf_counter() - start


def medians(commands: dict[str, list[str]], repeat: int, env: dict[str, str]) -> dict[str, float]:
    """The median wall time of each command over ``repeat`` rounds, after one warm-up round. The commands take turns
    within a round, so that a drift in the machine's load touches them all alike."""
    times: dict[str, list[float]] = {name: [] for name in commands}
    for round_ in range(repeat + 1):
        for name, command in commands.items():
            took = seconds(command, env)
            if round_:
                times[name].append(took)
    return {name: statistics.median(found) for name, found in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10, help="runs per command (default 10)")
    parser.add_argument("--as-is", action="store_true", help="keep the environment's bytecode settings")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="agora-pycache-") as pycache:
        env = dict(os.environ)
        if not args.as_is:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = pycache
        measure(args.repeat, env)


def measure(repeat: int, env: dict[str, str]) -> None:
    """Time the commands and print the table."""

    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "python -c 'import typer'": [sys.executable, "-c", "import typer"],
        "typer one-command app --help": [sys.executable, "-c", HELLO, "--help"],
        "python -c 'import agora.cli'": [sys.executable, "-c", "import agora.cli"],
        "agora --help": [*agora_command(), "--help"],
    }
    found = medians(commands, repeat, env)
    bare, typer = found["python -c pass"], found["python -c 'import typer'"]
    cached = "off" if env.get("PYTHONDONTWRITEBYTECODE") else "on"
    print(f"median of {repeat} runs each (wall time, taking turns, after a warm-up round); bytecode cache {cached}")
    print(f"{'command':<30} {'ms':>8} {'x python':>9} {'x typer':>8}")
    for name, median in found.items():
        print(f"{name:<30} {median * 1000:8.1f} {median / bare:9.2f} {median / typer:8.2f}")
    print(f"agora --help beyond import typer: {(found['agora --help'] - typer) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
