"""The ONNX Runtime backend: same vectors as torch (fp32) or close to them (int8), cached
exports, settings, and the errors a missing package or a damaged export gives."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from rag.cli import build_parser, settings_from_args
from rag import config as config_module
from rag.config import Settings
from rag.embeddings import load_embeddings, onnx_backend
from rag.embeddings import model as embedding_model
from rag.embeddings.model import DEFAULT_MODEL_DIR_NAME, DEFAULT_MODEL_ID
from rag.errors import InputError, ModelError

pytest.importorskip("onnxruntime")

# Chinese news text: full-width punctuation, numbers, Latin letters, one very short text,
# and one longer than the model's 512 tokens (truncated the same way on both sides).
TEXTS = [
    "太钢的碳中和目标是什么",
    "太钢正式发布了不锈钢低碳冶金技术路线图，为2025年实现降碳6%、2030年实现降碳16%提供支撑。",
    "“十四五”期间，全省GDP年均增长6.5%左右；居民人均可支配收入达到4.2万元。",
    "记者从市教育局获悉：今年秋季学期起，全市中小学将全面推行课后服务（每周5天）！",
    "短",
    "株洲云龙示范区今年新建了三座图书馆，馆长介绍藏书共计十二万册。" * 40,
]


def _variant(settings: Settings, quantization: str) -> Settings:
    """One ONNX variant for passages and questions alike."""
    return settings.replace(embedding_backend="onnx", embedding_quantization=quantization, query_quantization="none")


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1)


# --------------------------------------------------------------------------- settings (fast)


@pytest.mark.parametrize(
    ("backend", "quantization", "variant"),
    [("torch", "none", "torch"), ("onnx", "none", "onnx-fp32"), ("onnx", "fp32", "onnx-fp32"), ("ONNX", "int8", "onnx-int8"),
     ("auto", "none", "onnx-fp32"), ("auto", "int8", "onnx-int8")],
)
def test_settings_name_the_variant(backend, quantization, variant):
    settings = Settings.from_env({"RAG_EMBEDDING_BACKEND": backend, "RAG_EMBEDDING_QUANTIZATION": quantization})
    assert settings.embedding_variant == variant


def test_auto_is_the_default_and_takes_torch_without_onnxruntime(monkeypatch):
    assert Settings().embedding_backend == "auto"
    monkeypatch.setattr(config_module, "_onnxruntime_installed", lambda: False)
    assert Settings().embedding_variant == "torch"


@pytest.mark.parametrize(
    ("backend", "quantization", "message"),
    [("tensorrt", "none", "Unknown embedding backend"), ("onnx", "int4", "Unknown embedding quantization"),
     ("torch", "int8", "RAG_EMBEDDING_BACKEND=onnx")],
)
def test_impossible_settings_are_input_errors(backend, quantization, message):
    settings = Settings(embedding_backend=backend, embedding_quantization=quantization)
    with pytest.raises(InputError, match=message):
        settings.embedding_variant
    with pytest.raises(InputError, match=message):
        load_embeddings(settings)


def test_cli_flags_override_the_environment(monkeypatch):
    monkeypatch.setenv("RAG_EMBEDDING_BACKEND", "torch")
    args = build_parser().parse_args(["search", "问题", "--embedding-backend", "onnx", "--embedding-quantization", "int8"])
    assert settings_from_args(args).embedding_variant == "onnx-int8"


# --------------------------------------------------------------------------- errors (fast)


def test_missing_onnxruntime_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime now fails
    with pytest.raises(ModelError, match="pip install onnxruntime"):
        onnx_backend.OnnxEncoder(tmp_path)


def test_damaged_export_suggests_deleting_it(tmp_path):
    export = tmp_path / f"{DEFAULT_MODEL_DIR_NAME}-onnx-int8"
    export.mkdir()
    (export / onnx_backend.CONFIG_FILE).write_text("{ truncated", encoding="utf-8")
    with pytest.raises(ModelError, match="Delete the directory") as info:
        onnx_backend.OnnxEncoder(export)
    assert str(export) in str(info.value)


def test_onnx_backend_runs_on_the_cpu_only(tmp_path):
    settings = Settings(cache_dir=tmp_path, embedding_backend="onnx", embedding_device="cuda")
    with pytest.raises(ModelError, match="RAG_EMBEDDING_DEVICE=cpu"):
        load_embeddings(settings)


# --------------------------------------------------------------------------- the real model


@pytest.fixture(scope="module")
def onnx_fp32(base_settings):
    """The default model in ONNX Runtime, fp32 (exported into the model cache on first use)."""
    return load_embeddings(_variant(base_settings, "none"))


@pytest.fixture(scope="module")
def onnx_int8(base_settings):
    return load_embeddings(_variant(base_settings, "int8"))


@pytest.fixture(scope="module")
def torch_model(base_settings):
    return load_embeddings(base_settings.replace(embedding_backend="torch", embedding_quantization="none"))


@pytest.mark.integration
def test_int8_is_part_of_the_model_identity(torch_model, onnx_fp32, onnx_int8):
    assert torch_model.model_id == onnx_fp32.model_id == DEFAULT_MODEL_ID  # the same vectors
    assert onnx_int8.model_id == f"{DEFAULT_MODEL_ID}+onnx-int8"
    assert onnx_fp32.prefixes == onnx_int8.prefixes == torch_model.prefixes  # "query: " / "passage: "
    assert onnx_fp32.dimension == onnx_int8.dimension == 384


@pytest.mark.integration
def test_auto_runs_the_default_model_in_onnx_runtime(base_settings, onnx_fp32):
    model = load_embeddings(base_settings.replace(embedding_backend="auto", embedding_quantization="none"))
    assert isinstance(model.model, onnx_backend.OnnxEncoder) and model.variant == "onnx-fp32"
    assert model.model_id == DEFAULT_MODEL_ID


@pytest.mark.integration
def test_auto_falls_back_to_torch_for_a_model_onnx_cannot_run(tmp_path, torch_model, capsys, monkeypatch):
    """A model with max pooling, saved as a local directory: auto embeds it with torch, with a note.
    The refused export happens in a child process; this one loads the torch model once, as the fallback."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.models import Pooling

    directory = tmp_path / "max-pooled"
    SentenceTransformer(modules=[torch_model.model[0], Pooling(384, pooling_mode="max")], device="cpu").save(str(directory))
    settings = Settings(cache_dir=tmp_path / "cache", embedding_model=str(directory), embedding_backend="auto")
    loads = []
    load = embedding_model._load
    monkeypatch.setattr(embedding_model, "_load", lambda *args: loads.append(args) or load(*args))
    model = load_embeddings(settings)
    assert len(loads) == 1
    assert model.variant == "torch" and not isinstance(model.model, onnx_backend.OnnxEncoder)
    assert model.encode_queries(["太钢"]).shape == (1, 384)
    assert "embedding with torch, not ONNX Runtime" in capsys.readouterr().err
    with pytest.raises(ModelError, match="RAG_EMBEDDING_BACKEND=torch"):  # asked for by name: refused
        load_embeddings(settings.replace(embedding_backend="onnx"))


@pytest.mark.integration
def test_fp32_gives_the_torch_vectors(torch_model, onnx_fp32):
    for encode in ("encode_passages", "encode_queries"):
        ours, reference = getattr(onnx_fp32, encode)(TEXTS, batch_size=4), getattr(torch_model, encode)(TEXTS)
        assert ours.shape == (len(TEXTS), 384) and ours.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
        assert _cosines(ours, reference).min() > 0.999, encode
    # a single question goes through the micro-batcher
    np.testing.assert_allclose(onnx_fp32.embed_query(TEXTS[0]), torch_model.encode_queries(TEXTS[:1])[0], atol=1e-4)
    assert onnx_fp32.encode_passages([]).shape == (0, 384)


@pytest.mark.integration
def test_questions_are_embedded_by_int8_beside_fp32_passages_by_default(base_settings, onnx_fp32, onnx_int8):
    model = load_embeddings(base_settings.replace(embedding_backend="auto", embedding_quantization="none"))
    assert model.variant == "onnx-fp32" and model.query_variant == "onnx-int8"
    assert model.model_id == DEFAULT_MODEL_ID  # the index is the fp32 one: passages are fp32
    np.testing.assert_allclose(model.encode_passages(TEXTS), onnx_fp32.encode_passages(TEXTS), atol=1e-5)
    int8_alone = np.stack([onnx_int8.encode_queries([text])[0] for text in TEXTS])  # the int8 model, one question a pass
    np.testing.assert_allclose(model.encode_queries(TEXTS), int8_alone, atol=1e-5)
    np.testing.assert_allclose(model.embed_query(TEXTS[0]), int8_alone[0], atol=1e-5)
    assert _cosines(model.encode_queries(TEXTS), onnx_fp32.encode_queries(TEXTS)).min() > 0.98
    # a question's vector does not depend on the questions it is encoded with
    alone = np.stack([model.encode_queries([text])[0] for text in TEXTS])
    np.testing.assert_array_equal(model.encode_queries(TEXTS, batch_size=8), alone)
    # off, or a torch or int8 model: questions go through the passages' own model
    assert load_embeddings(base_settings.replace(embedding_backend="auto", query_quantization="none")).query_model is None
    assert Settings(embedding_backend="torch").query_variant is None
    assert Settings(embedding_backend="onnx", embedding_quantization="int8").query_variant is None
    with pytest.raises(InputError, match="query quantization"):
        Settings(query_quantization="int4").query_variant


@pytest.mark.integration
def test_int8_stays_close_to_the_torch_vectors(torch_model, onnx_int8):
    # measured: mean 0.997, lowest 0.98 (the truncated long text); see docs/results.md
    for encode in ("encode_passages", "encode_queries"):
        cosines = _cosines(getattr(onnx_int8, encode)(TEXTS), getattr(torch_model, encode)(TEXTS))
        assert cosines.min() > 0.97 and cosines.mean() > 0.99, (encode, cosines)


@pytest.mark.integration
def test_int8_ranks_a_paraphrase_above_unrelated_text(onnx_int8):
    question = onnx_int8.encode_queries(["太钢什么时候实现碳中和？"])[0]
    passages = onnx_int8.encode_passages(["太钢集团计划到2050年实现碳中和的目标。", "今天下午市区有小雨，最高气温十八摄氏度。"])
    scores = passages @ question
    assert scores[0] > scores[1]


@pytest.mark.integration
def test_cached_export_is_reused(base_settings, onnx_int8, monkeypatch):
    def no_export(*_args, **_kwargs):
        raise AssertionError("exported again although the export is cached")

    monkeypatch.setattr(onnx_backend, "export", no_export)
    monkeypatch.setattr(embedding_model, "_load", no_export)  # nor is the torch model loaded
    again = embedding_model._load_onnx(base_settings.embedding_model, base_settings.model_cache_dir, "cpu", "onnx-int8")
    assert again.model_id == onnx_int8.model_id
    np.testing.assert_allclose(again.encode_passages(TEXTS[:2]), onnx_int8.encode_passages(TEXTS[:2]), atol=1e-6)
    export = base_settings.model_cache_dir / f"{DEFAULT_MODEL_DIR_NAME}-onnx-int8"
    assert json.loads((export / onnx_backend.CONFIG_FILE).read_text())["quantization"] == "int8"


@pytest.mark.integration
def test_export_writes_a_complete_directory_atomically(torch_model, tmp_path):
    """The whole export (trace, fuse, quantise) from scratch, into an empty cache."""
    target = tmp_path / "models" / "e5-onnx-int8"
    assert onnx_backend.export(torch_model.model, target, "int8") == target
    assert sorted(p.name for p in target.iterdir()) == sorted(
        [onnx_backend.MODEL_FILE, onnx_backend.TOKENIZER_FILE, onnx_backend.CONFIG_FILE]
    )
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # no temporary directory left
    encoder = onnx_backend.OnnxEncoder(target)
    cosines = _cosines(encoder.encode(TEXTS, prompt="passage: "), torch_model.encode_passages(TEXTS))
    assert cosines.min() > 0.97
    # the torch model still works as before (its attention implementation is restored)
    assert torch_model.model[0].auto_model.config._attn_implementation != "eager"


@pytest.mark.integration
def test_models_the_encoder_cannot_reproduce_are_refused(torch_model):
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.models import Pooling

    max_pooled = SentenceTransformer(modules=[torch_model.model[0], Pooling(384, pooling_mode="max")], device="cpu")
    with pytest.raises(ModelError, match="RAG_EMBEDDING_BACKEND=torch"):
        onnx_backend.encoder_config(max_pooled, "int8")
