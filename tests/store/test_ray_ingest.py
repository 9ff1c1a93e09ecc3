"""`rag ingest --ray`: the same index as a local ingest, a killed worker, a killed run left as it
was or resumed, a PDF's pages and boxes written into Milvus by the writer actors.

Integration tests: the real model on a local Ray instance (started once for the module),
and a `milvus-lite server` for the writes from Ray's writer actors. About three minutes on
2 cores, most of it the model.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from rag.config import PROJECT_ROOT
from rag.store import ingest
from rag.store.factory import open_store
from tests.bench_scripts import load as _bench

index_contents = _bench("bench_ray_ingest").contents  # every chunk id (sorted) and its vector

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install '.[scale]')")
pytest.importorskip("ray.data", reason="Ray Data is not installed (pip install '.[scale]')")

pytestmark = pytest.mark.integration

CORPUS = PROJECT_ROOT / "data" / "corpus"
SMALL = ["000_a73fe32ef8bc3bea.txt", "001_b8f73a123f597be6.txt"]  # 2 of the 5 issues, for the fault tests


@pytest.fixture(scope="module")
def local_ray(base_settings):
    """One local Ray instance for the module (ingest reuses a running one instead of starting its own)."""
    from rag.store.ray_ingest import connect

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    connect(ray, base_settings.replace(ray_address="local"))
    yield
    ray.shutdown()


def places(settings) -> dict[str, tuple]:
    """Every chunk's page and box (None for these text files: they must come back None, not NaN)."""
    store = open_store(settings)
    try:
        return {chunk.chunk_id: (chunk.page, chunk.bbox) for chunk in store.all_chunks()}
    finally:
        store.close()


def assert_same_index(settings, reference) -> None:
    ids, vectors = index_contents(settings)
    ref_ids, ref_vectors = index_contents(reference)
    assert ids == ref_ids
    np.testing.assert_allclose(vectors, ref_vectors, atol=1e-5)  # fp32 noise: batches pad differently
    assert places(settings) == places(reference)


def files_of(index_dir: Path) -> dict[str, str]:
    """Every file of an index directory (but its lock file) and the SHA-256 of its content."""
    return {str(path.relative_to(index_dir)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(index_dir.rglob("*")) if path.is_file() and path.name != ".lock"}


def embedder_pids() -> list[int]:
    """Processes of Ray's embedding actors (Ray titles them after the actor's class)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                title = (entry / "cmdline").read_bytes().decode("utf-8", "replace")
            except OSError:
                continue
            if "PassageEmbedder" in title and int(entry.name) != os.getpid():
                pids.append(int(entry.name))
    return pids


def test_the_same_chunks_and_vectors_as_a_local_ingest(local_ray, corpus_settings, tmp_path):
    """The five issues through Ray: the same chunk ids and vectors as the session's local ingest."""
    settings = corpus_settings.replace(index_dir=tmp_path / "ray", ray_address="local")
    report = ingest(None, settings)
    assert report.embedded_chunks == report.chunks > 100
    assert_same_index(settings, corpus_settings)


def test_a_worker_killed_mid_ingest_is_retried(local_ray, base_settings, tmp_path, monkeypatch):
    from rag.store import ray_ingest

    monkeypatch.setattr(ray_ingest, "BATCH_ROWS", 4)  # many tasks, so the kill lands mid-way
    paths = [CORPUS / name for name in SMALL]
    killed = []

    def kill_one_embedder(stage, done, total):
        if not killed and done < total:
            pids = embedder_pids()
            assert pids, "no embedding actor found to kill"
            os.kill(pids[0], signal.SIGKILL)
            killed.append((pids[0], done, total))

    settings = base_settings.replace(index_dir=tmp_path / "ray", ray_address="local")
    report = ingest(paths, settings, progress=kill_one_embedder)
    assert killed, "the run ended before a worker could be killed"
    assert report.embedded_chunks == report.chunks
    reference = base_settings.replace(index_dir=tmp_path / "local")
    ingest(paths, reference)
    assert_same_index(settings, reference)


def test_a_run_killed_while_embedding_leaves_the_local_store_as_it_was(base_settings, tmp_path):
    """The local store is written by the driver after the last batch: a driver killed (with
    its Ray instance) while its workers embed leaves every file of the index as it was, and
    the next run embeds every new chunk and gives the index a local ingest gives."""
    from tests.store.contract import wait_for

    settings = base_settings.replace(index_dir=tmp_path / "idx")
    ingest([CORPUS / SMALL[0]], settings)  # the index as it was: one issue
    before, files_before = index_contents(settings), files_of(settings.index_dir)
    paths = [CORPUS / name for name in SMALL + ["004_a03633453cf80aeb.txt"]]

    fields = {"index_dir": str(settings.index_dir), "store": "local"}
    child = subprocess.Popen([sys.executable, "-m", "tests.store.ray_ingest_child", json.dumps(fields), *map(str, paths)],
                             cwd=PROJECT_ROOT, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        seen = wait_for(child, " rows")  # the workers have sent back their first rows
        done, total = map(int, re.search(r"embedded (\d+) of (\d+) rows", seen).groups())
    finally:
        try:
            os.killpg(child.pid, signal.SIGKILL)  # the driver, and the Ray instance it started
        except ProcessLookupError:
            pass  # it had already exited (an assertion below says so)
        child.wait(timeout=30)
    assert 0 < done < total, f"killed after {done} of {total} rows"
    assert "report" not in seen, "the ingest finished before it could be killed"

    assert files_of(settings.index_dir) == files_before  # nothing written, nothing left half-written
    assert index_contents(settings)[0] == before[0]
    np.testing.assert_array_equal(index_contents(settings)[1], before[1])

    report = ingest(paths, settings.replace(ray_address="local"))  # the lock died with the killed driver
    assert report.embedded_chunks == report.chunks - len(before[0])  # what the killed run embedded was not kept
    reference = base_settings.replace(index_dir=tmp_path / "local")
    ingest(paths, reference)
    assert_same_index(settings, reference)


def test_a_killed_run_leaves_the_index_as_it_was_and_the_next_embeds_only_the_rest(base_settings, tmp_path, milvus_lite_server):
    """Writer actors insert into a Milvus server; the ingest is killed once some rows are in."""
    from pymilvus import MilvusClient

    settings = base_settings.replace(store="milvus", milvus_uri=milvus_lite_server, index_dir=tmp_path / "idx")
    first = [CORPUS / SMALL[0]]
    ingest(first, settings)  # the index as it was: one issue
    before = index_contents(settings)
    paths = [CORPUS / name for name in SMALL + ["004_a03633453cf80aeb.txt"]]

    fields = {"index_dir": str(settings.index_dir), "store": "milvus", "milvus_uri": milvus_lite_server}
    child = subprocess.Popen([sys.executable, "-m", "tests.store.ray_ingest_child", json.dumps(fields), *map(str, paths)],
                             cwd=PROJECT_ROOT, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    client = MilvusClient(uri=milvus_lite_server)
    chunks = "rag_idx_chunks"
    live = len(before[0])
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and child.poll() is None:
        rows = client.query(chunks, filter='version != ""', output_fields=["count(*)"])[0]["count(*)"]
        if rows > live + 8:  # the writers have put some of the new files' rows in
            break
        time.sleep(0.2)
    assert child.poll() is None, "the ingest finished before it could be killed"
    os.killpg(child.pid, signal.SIGKILL)
    child.wait()
    time.sleep(2)  # Ray's processes share the driver's fate
    written = client.query(chunks, filter='version != ""', output_fields=["count(*)"])[0]["count(*)"] - live
    assert written > 0

    assert index_contents(settings)[0] == before[0]  # the manifest still lists the first issue only
    np.testing.assert_array_equal(index_contents(settings)[1], before[1])

    report = ingest(paths, settings.replace(ray_address="local"))
    reused = sum(1 for _ in before[0])  # chunks of the first issue, copied from the index
    assert report.chunks == report.embedded_chunks + written + reused
    assert 0 < report.embedded_chunks < report.chunks - reused
    reference = base_settings.replace(index_dir=tmp_path / "local")
    ingest(paths, reference)
    assert_same_index(settings, reference)


def test_a_pdf_through_ray_into_milvus_keeps_every_page_and_box(local_ray, base_settings, tmp_path, milvus_lite_server):
    """A generated two-page issue: Ray's writer actors store each chunk's page and article box
    in Milvus exactly as the local ingest keeps them."""
    from tests.corpus.test_pdf_layout import ISSUE, _bench

    pdf, _ = _bench("make_test_pdfs").make_issue(ISSUE, tmp_path / "pdf", columns=3)
    pdf.with_suffix(".truth.json").unlink()
    settings = base_settings.replace(store="milvus", milvus_uri=milvus_lite_server, index_dir=tmp_path / "ray",
                                     ray_address="local")
    ingest([pdf], settings)
    reference = base_settings.replace(index_dir=tmp_path / "local")
    ingest([pdf], reference)
    assert_same_index(settings, reference)
    found = places(settings)
    assert {page for page, _ in found.values()} == {1, 2} and all(len(box) == 4 for _, box in found.values())
