"""Every Python block of the README runs, as written, each in a fresh interpreter in an empty directory.

The blocks name real models (``"local"``, ``"openai:gpt-4o-mini"`` ...). Rather than edit their text, the interpreter
that runs a block first registers the deterministic ``hashed`` backend (``tests/fixtures/hashed.py``: replies are a
function of the messages, a verdict JSON when a schema is asked for) under the backend kinds of ``SUBSTITUTED``, so a
block neither loads the embedded model nor needs a key or a network. No block is skipped.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"

SUBSTITUTED = ("local", "openai", "anthropic")
"""The substitution table: kinds served by the hashed backend while a block runs (``KIND:REST`` builds
``HashedBackend(REST)``)."""

NAMES_A_MODEL = re.compile(rf"[\"'](?:{'|'.join(SUBSTITUTED)})(?::[^\"']*)?[\"']")
"""A spec string of a substituted kind in a block's code: ``"local"``, ``'openai:gpt-4o-mini'``."""

CALLS = "hashed backend calls: "

RUNNER = f"""
import runpy, sys
from agora.backends import BACKENDS
from tests.fixtures import hashed

for kind in {SUBSTITUTED!r}:
    BACKENDS.add(kind, hashed.HashedBackend)
runpy.run_path(sys.argv[1], run_name="__main__")
print({CALLS!r} + str(sum(hashed.calls.values())))
"""

FENCE = re.compile(r"^```(\S*)[^\n]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


class Block(NamedTuple):
    line: int  # of the opening fence in README.md
    code: str


def python_blocks(text: str) -> list[Block]:
    """The README's fenced blocks whose language is Python (``python``, ``py``, ``python3``, any case)."""
    return [
        Block(text.count("\n", 0, fence.start()) + 1, fence.group(2))
        for fence in FENCE.finditer(text)
        if fence.group(1).lower() in ("python", "py", "python3")
    ]


BLOCKS = python_blocks(README.read_text(encoding="utf-8"))


def test_every_python_fence_is_found() -> None:
    opened = re.findall(
        r"^```(?:python|py|python3)\b", README.read_text(encoding="utf-8"), re.MULTILINE | re.IGNORECASE
    )
    assert len(BLOCKS) == len(opened) >= 4


@pytest.mark.parametrize("block", BLOCKS, ids=[f"README.md:{b.line}" for b in BLOCKS])
def test_readme_block_runs(block: Block, tmp_path: Path) -> None:
    script = tmp_path / "block.py"
    script.write_text(block.code, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run(
        [sys.executable, "-c", RUNNER, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    where = f"README.md:{block.line}"
    assert result.returncode == 0, f"{where} failed:\n{result.stderr}"
    *printed, last = result.stdout.splitlines()
    calls = int(last.removeprefix(CALLS))
    if NAMES_A_MODEL.search(block.code) and "asyncio.run(" in block.code:  # it ran something on a substituted model
        assert calls > 0, f"{where}: no model call reached the hashed backend"
    if "print(" in block.code:
        assert any(line.strip() for line in printed), f"{where}: printed nothing"
