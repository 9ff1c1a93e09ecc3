"""The ONNX export runs in a child process, so the process that then embeds questions
never holds torch or the export's memory; the child's failures come back as one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from rag.config import Settings
from rag.embeddings import export_process, load_embeddings, onnx_backend
from rag.embeddings.model import DEFAULT_MODEL_DIR_NAME
from rag.errors import ModelError


def test_a_child_that_dies_without_a_word_means_onnx_is_unavailable(tmp_path, monkeypatch):
    monkeypatch.setattr(export_process.sys, "executable", "/bin/false")  # exits 1, writes nothing
    with pytest.raises(onnx_backend.OnnxUnavailable, match="exit code 1"):
        export_process.export_in_child_process("some/model", tmp_path, "cpu", "onnx-fp32", tmp_path / "export")


def test_a_model_the_child_cannot_find_is_a_model_error_in_the_parent(tmp_path):
    settings = Settings(cache_dir=tmp_path / "cache", embedding_model=str(tmp_path / "no-such-model"), embedding_backend="onnx")
    with pytest.raises(ModelError, match="does not exist") as info:
        load_embeddings(settings)
    assert not isinstance(info.value, onnx_backend.OnnxUnavailable)  # not a reason to fall back to torch
    assert not any((tmp_path / "cache").rglob("*onnx*"))  # no export, not even a half-written one


def test_the_child_reports_in_json(tmp_path):
    outcome = tmp_path / "outcome.json"
    code = export_process.main([
        "--model", str(tmp_path / "missing"), "--cache-dir", str(tmp_path), "--variant", "onnx-int8",
        "--target", str(tmp_path / "export"), "--outcome", str(outcome),
    ])  # fmt: skip
    assert code == 1
    report = json.loads(outcome.read_text(encoding="utf-8"))
    assert report["kind"] == "model" and "does not exist" in report["message"]


@pytest.mark.integration
def test_exporting_leaves_the_parent_without_torch(base_settings, embeddings, tmp_path):
    """A fresh model cache (holding only the converted model): the export happens, and the
    process that asked for it ends up with the ONNX model and without torch."""
    cache = tmp_path / "cache"
    (cache / "models").mkdir(parents=True)
    (cache / "models" / DEFAULT_MODEL_DIR_NAME).symlink_to(base_settings.model_cache_dir / DEFAULT_MODEL_DIR_NAME)
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from rag.config import Settings
        from rag.embeddings import load_embeddings
        model = load_embeddings(Settings(cache_dir=Path({str(cache)!r}), query_quantization="none"))
        vector = model.encode_queries(["太钢的碳中和目标是什么"])
        print(model.variant, vector.shape, "torch" in sys.modules)
        """
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split() == ["onnx-fp32", "(1,", "384)", "False"]
    assert "Exporting the embedding model to ONNX (fp32" in run.stderr  # the child's progress line shows
    assert "Traceback" not in run.stderr
    assert (cache / "models" / f"{DEFAULT_MODEL_DIR_NAME}-onnx-fp32" / onnx_backend.CONFIG_FILE).is_file()
