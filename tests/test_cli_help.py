"""The command line's help texts, pinned.

Every command's ``--help`` is compared with ``tests/data/cli_help/<command>.txt``, so that any change to a flag,
a default or a help text shows in review. After a deliberate change, regenerate the files with
``python tests/test_cli_help.py`` and review the diff.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HELP_DIR = Path(__file__).resolve().parent / "data" / "cli_help"
COMMANDS = [
    (),
    ("models",),
    ("judge",),
    ("debate",),
    ("consult",),
    ("jury",),
    ("probe",),
    ("tune",),
    ("personas",),
    ("run",),
    ("resume",),
    ("scenarios",),
    ("report",),
    ("compare",),
    ("graph",),
    ("graph", "validate"),
    ("graph", "draw"),
    ("graph", "run"),
]

# Runs in a subprocess: every command's help through ``agora.cli.main``, as JSON {command: text}.
_ALL_HELP = """
import contextlib, io, json, sys
from agora.cli import main

texts = {}
for command in json.loads(sys.argv[1]):
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        try:
            main([*command, "--help"])
        except SystemExit:
            pass
    texts[" ".join(["agora", *command])] = buffer.getvalue()
print(json.dumps(texts))
"""


def help_file(command: tuple[str, ...]) -> Path:
    """Where the help text of ``agora COMMAND...`` is kept."""
    return HELP_DIR / ("-".join(command or ("agora",)) + ".txt")


def tidy(text: str) -> str:
    """``text`` without the spaces rich pads each line with, nor trailing blank lines (editors strip them)."""
    return "\n".join(line.rstrip() for line in text.splitlines()).rstrip("\n") + "\n"


def run_python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter with a fixed terminal (120 columns, no colour)."""
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "PY_COLORS", "GITHUB_ACTIONS")}
    env.update(COLUMNS="120", LINES="50", TERM="dumb", NO_COLOR="1", TERMINAL_WIDTH="120")
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


def all_help() -> dict[str, str]:
    """Every command's help text (tidied), keyed by the command line (``agora graph draw``)."""
    result = run_python(_ALL_HELP, json.dumps(COMMANDS))
    assert result.returncode == 0, result.stderr
    texts: dict[str, str] = json.loads(result.stdout)
    return {command: tidy(text) for command, text in texts.items()}


@pytest.fixture(scope="module")
def helps() -> dict[str, str]:
    return all_help()


@pytest.mark.parametrize("command", COMMANDS, ids=["-".join(c or ("agora",)) for c in COMMANDS])
def test_help_text_is_unchanged(helps: dict[str, str], command: tuple[str, ...]) -> None:
    shown = helps[" ".join(["agora", *command])]
    assert shown.strip(), f"agora {' '.join(command)} --help printed nothing"
    assert shown == help_file(command).read_text(encoding="utf-8")


@pytest.mark.parametrize("command", [(), ("graph",)], ids=["agora", "graph"])
def test_a_group_without_arguments_prints_its_help_and_exits_0(command: tuple[str, ...]) -> None:
    code = "import sys; from agora.cli import main; main(sys.argv[1:])"
    result = run_python(code, *command)
    assert result.returncode == 0, result.stderr
    assert tidy(result.stdout) == help_file(command).read_text(encoding="utf-8")


if __name__ == "__main__":  # regenerate the stored help texts
    HELP_DIR.mkdir(parents=True, exist_ok=True)
    texts = all_help()
    for command in COMMANDS:
        help_file(command).write_text(texts[" ".join(["agora", *command])], encoding="utf-8")
    print(f"wrote {len(COMMANDS)} files to {HELP_DIR}")
