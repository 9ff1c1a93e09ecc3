"""The Milvus backend: chunks, vectors and BM25 in one Milvus collection per index name.

``RAG_STORE=milvus`` with ``RAG_MILVUS_URI`` a local path (Milvus Lite, a file ending in
``.db``; a folder gets ``milvus.db`` inside) or ``http://host:19530`` (a server;
``RAG_MILVUS_TOKEN`` for one with authentication). The index name is the last part of
``--index`` / ``RAG_INDEX_DIR``: index ``idx`` lives in the collections ``rag_idx_chunks``
and ``rag_idx_files``.

``rag_<name>_chunks``: one row per chunk *version*. The dense vector (HNSW, inner
product), the chunk's text and metadata as scalar fields, and ``tokens``: the project's
own BM25 terms (rag/store/tokenize.py) joined by spaces, which Milvus's BM25 function
turns into a sparse vector. Splitting on spaces is all the analyzer has to do, so both
backends score the same terms. A PDF passage's page is an INT64 (0 for none: pages count
from 1) and its article's box a JSON object (``{"box": [x0, y0, x1, y1]}``, ``{}`` for
none): fields that are never null, and a JSON object, are what Milvus 2.3 takes (nullable
fields are Milvus 2.5; 2.3 refuses a JSON list). A collection made before these two
fields opens as it is: its chunks have no page, with a note that ``rag ingest --rebuild``
(which makes the collection again) adds them.

``rag_<name>_files``: the manifest, one row per file (its entry and its live *version*),
one ``meta`` row (model, chunking settings) and one ``generation`` row (a fresh id per
commit). Milvus needs a vector field in every collection, so it carries a 2-dimensional dummy.

Milvus has no transactions; a commit is made safe by versions instead:

1. the new chunks of each changed file are inserted under a fresh version id: no search
   sees them yet, since every search is restricted to the versions the manifest lists;
2. each file's manifest row is switched to its new version, one row at a time, so a
   search sees each file whole, old or new;
3. the ``generation`` row gets a fresh id: the sign to other processes that the manifest
   changed;
4. rows of versions no manifest row lists (replaced, removed, or left by an interrupted
   commit) are deleted.

An opened store keeps the manifest and versions it read: a snapshot. Several app servers
(and ``rag`` commands) share one index, so a snapshot must not live forever: ``refresh()``
(called by ``Searcher`` before each search) reads the ``generation`` row, at most once every
``milvus_refresh_seconds`` (``RAG_MILVUS_REFRESH_SECONDS``, default 5; 0 checks before every
search), and when another process has committed since, reads the whole manifest again and
drops what it kept of the old snapshot. The check is one point read by primary key with
"Session" consistency: it waits for no time tick, so it costs one round trip (2-4 ms p50 on
a local Milvus 2.3.5 server, where the same read with Strong consistency took 200 ms), while a
full manifest read costs a tick per request and grows with the files.
Another process's commit is thus seen within the refresh interval (plus the server's
replication lag). In that window a search still sees the old snapshot, and files the commit
replaced may be missing from it once step 4 has deleted their old rows; a file is never
seen half old, half new.

The rows of a version never change, so within a snapshot the store also keeps what it was
told: the chunks a search returned (asked for in the search itself) and the count of each
filter. Under Strong consistency every request to a server waits for a time tick (200 ms
on Milvus 2.3.5's defaults), so a dense search is one request, not two or three. (Asking
a 2.3.5 search for the vectors too costs a second tick: the vectors are read separately.)
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from rag.config import Settings
from rag.errors import InputError, StoreError
from rag.records import Chunk
from rag.store.base import Capabilities, ChangeSet, Hits, commit_stage, iter_batches
from rag.store.filters import SearchFilter, active
from rag.store.manifest import FileEntry, Manifest
from rag.store.moments import ScoreMoments

INSTALL_HINT = "pip install 'rag-news-zh[milvus]' (or: pip install pymilvus==3.0.2 milvus-lite==3.2.2)"
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 200
HNSW_EF_SEARCH = 128
MAX_SEARCH_LIMIT = 16384  # Milvus refuses a larger top-k
INSERT_SLICE = 256  # rows per insert call
ID_SLICE = 500  # ids per "in [...]" expression
META_KEY = "meta"
GENERATION_KEY = "generation"
FILE_PREFIX = "file:"
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# (field, max bytes) of the string fields; longer values are cut on a character boundary
_TEXT_FIELDS = {"chunk_id": 128, "version": 40, "file": 1024, "source": 1024, "title": 2048, "date": 64,
                "day": 16, "newspaper": 512, "text": 65535, "tokens": 65535}
_INT_FIELDS = ("article_index", "position", "start", "end")
_PLACE_FIELDS = ["page", "bbox"]  # where a PDF passage is printed: INT64 (0: none) and JSON {"box": [...]} ({}: none)
_CHUNK_OUTPUT = ["chunk_id", "file", "source", "title", "date", "newspaper", "text", *_INT_FIELDS]
SEEN_LIMIT = 5000  # chunks kept from recent searches; the whole cache is dropped beyond that
_warned_dense_only: set[str] = set()
_warned_no_places: set[str] = set()
_lite_users: dict[str, int] = {}  # Milvus Lite database -> stores of this process that have it open


def _pymilvus():
    try:
        import pymilvus
    except ImportError:
        raise StoreError(f"RAG_STORE=milvus needs pymilvus, which is not installed. Install it: {INSTALL_HINT}") from None
    # Milvus Lite cannot give query iterators a server timestamp; pymilvus warns on every one.
    logging.getLogger("pymilvus.client.iterator.query_iterator").setLevel(logging.ERROR)
    return pymilvus


def resolve_uri(settings: Settings) -> str:
    """A server URL as given; a local path (default: ``<index>/milvus.db``) made absolute, ending in .db."""
    uri = (settings.milvus_uri or "").strip()
    if re.match(r"^(https?|tcp|unix)://", uri):
        return uri
    path = Path(uri).expanduser() if uri else Path(settings.index_dir) / "milvus.db"
    if path.suffix != ".db":
        path = path / "milvus.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    return str(path.resolve())


def collection_prefix(index_dir: Path) -> str:
    """``rag_<index name>``: Milvus allows letters, digits and underscores in collection names."""
    name = re.sub(r"[^0-9A-Za-z_]", "_", Path(index_dir).resolve().name or "index")
    return f"rag_{name}"[:200]


def quote(value: str) -> str:
    """A string literal for a Milvus filter expression (quotes and backslashes escaped).

    Milvus's ``filter_params`` templating fails on Milvus Lite, so values are written into
    the expression; JSON's escaping is what Milvus's expression parser reads.
    """
    return json.dumps(str(value), ensure_ascii=False)


def quote_list(values: Iterable[str]) -> str:
    return "[" + ", ".join(quote(v) for v in values) + "]"


def filter_expression(where: SearchFilter | None) -> str:
    """The Milvus expression for a :class:`SearchFilter` ("" for none)."""
    where = active(where)
    if where is None:
        return ""
    parts = []
    if where.date_from or where.date_to:
        parts.append('day != ""')
        if where.date_from:
            parts.append(f"day >= {quote(where.date_from)}")
        if where.date_to:
            parts.append(f"day <= {quote(where.date_to)}")
    if where.newspapers:
        parts.append(f"newspaper in {quote_list(where.newspapers)}")
    if where.sources:
        parts.append(f"(file in {quote_list(where.sources)} or source in {quote_list(where.sources)})")
    return " and ".join(parts)


def _cut(value: str | None, limit: int) -> str:
    """``value`` (None → "") cut to ``limit`` UTF-8 bytes on a character boundary."""
    data = (value or "").encode("utf-8")
    return data[:limit].decode("utf-8", errors="ignore") if len(data) > limit else (value or "")


class MilvusStore:
    """An index in Milvus, answering the store protocol (rag/store/base.py)."""

    name = "milvus"

    def __init__(self, client, uri: str, prefix: str, *, bm25: bool, lite: bool, fresh: bool = False,
                 local_file: bool | None = None, refresh_seconds: float = Settings.milvus_refresh_seconds):
        self.client = client
        self.uri = uri
        self.chunks_name = f"{prefix}_chunks"
        self.files_name = f"{prefix}_files"
        self.bm25 = bm25
        self.lite = lite  # the Milvus Lite engine (a local file, or `milvus-lite server`): its analyzer, scores, parameters
        self.local_file = lite if local_file is None else local_file  # a .db file: open in one process at a time
        self.capabilities = Capabilities(raw_vectors=True, dense_moments=True, approximate_dense=True)
        self.versions: dict[str, str] = {}  # source -> live version
        self.manifest: Manifest | None = None
        self.generation = ""  # the generation row's id when the manifest was read ("" before any commit)
        self.refresh_seconds = refresh_seconds
        self._checked = time.monotonic()  # when the generation row was last read
        self._refresh_lock = threading.Lock()
        self._seen: dict[str, Chunk] = {}  # chunk id -> chunk, from searches
        self._counts: dict[SearchFilter, int] = {}
        self.fresh = fresh
        self.places = self._has_place_fields()  # False: a collection made before page and bbox were stored
        self._read_manifest()
        if fresh:  # ingest --rebuild: every old file is replaced or removed by the next commit
            self.manifest = None

    @classmethod
    def connect(cls, settings: Settings, *, fresh: bool = False) -> "MilvusStore":
        if not settings.milvus_refresh_seconds >= 0:  # also refuses NaN
            raise InputError(f"RAG_MILVUS_REFRESH_SECONDS must be 0 or more seconds, not {settings.milvus_refresh_seconds}.")
        pymilvus = _pymilvus()
        uri = resolve_uri(settings)
        local_file = not re.match(r"^(https?|tcp|unix)://", uri)
        try:
            client = pymilvus.MilvusClient(uri=uri, token=settings.milvus_token or "")
            # `milvus-lite server` serves the Lite engine to several processes; it names itself so
            lite = local_file or str(client.get_server_version()).startswith("milvus_lite")
            bm25 = lite or _server_has_bm25(client, uri)
        except pymilvus.MilvusException as exc:
            raise StoreError(f"Cannot connect to Milvus at {uri}: {exc.message}") from None
        if local_file:
            _lite_users[uri] = _lite_users.get(uri, 0) + 1
        return cls(client, uri, collection_prefix(settings.index_dir), bm25=bm25, lite=lite, fresh=fresh,
                   local_file=local_file, refresh_seconds=settings.milvus_refresh_seconds)

    def close(self) -> None:
        """Close the connection; the last store of a Milvus Lite database in this process also
        stops its server, so another process (a later ingest, a test) may open the file."""
        if self.client is None:
            return
        self.client.close()
        self.client = None
        if self.local_file:
            _lite_users[self.uri] -= 1
            if not _lite_users[self.uri]:
                from milvus_lite.server_manager import server_manager_instance

                server_manager_instance.release_server(self.uri)

    # -- the manifest --------------------------------------------------------------

    def _has_place_fields(self) -> bool:
        if not self.client.has_collection(self.chunks_name):
            return True
        names = {field["name"] for field in self.client.describe_collection(self.chunks_name)["fields"]}
        if set(_PLACE_FIELDS) <= names:
            return True
        if self.uri + self.chunks_name not in _warned_no_places:
            _warned_no_places.add(self.uri + self.chunks_name)
            print(f"note: Milvus collection {self.chunks_name} was made before PDF pages were stored: its passages show "
                  "no page. Run rag ingest --rebuild to add them.", file=sys.stderr)
        return False

    @property
    def _output(self) -> list[str]:
        """The chunk fields reads ask for (a collection made before page and bbox lacks them)."""
        return _CHUNK_OUTPUT + _PLACE_FIELDS if self.places else _CHUNK_OUTPUT

    def _read_manifest(self) -> None:
        if not self.client.has_collection(self.files_name):
            return
        self.client.load_collection(self.files_name)  # a reopened collection must be loaded again
        if self.client.has_collection(self.chunks_name):
            self.client.load_collection(self.chunks_name)
        rows = self._query_all(self.files_name, 'key != ""', ["key", "payload"])
        payloads = {row["key"]: json.loads(row["payload"]) for row in rows}
        meta = payloads.get(META_KEY)
        if meta is None:
            return
        files, versions = {}, {}
        for key, payload in payloads.items():
            if key.startswith(FILE_PREFIX):
                entry = FileEntry(**payload["entry"])
                files[entry.source], versions[entry.source] = entry, payload["version"]
        manifest = Manifest.from_json({**meta, "files": {}})
        manifest.files = files
        self.manifest, self.versions = manifest, versions
        self.generation = payloads.get(GENERATION_KEY, {}).get("id", "")

    def refresh(self) -> bool:
        """Take up a commit another process made since the manifest was read; True when there was one.

        Reads the generation row at most once every ``refresh_seconds``; a new generation
        means the whole manifest is read again and the chunks and counts kept from the old
        snapshot are dropped.
        """
        if self.client is None or time.monotonic() - self._checked < self.refresh_seconds:
            return False
        with self._refresh_lock:  # one thread checks; the others wait for its answer, then use it
            if time.monotonic() - self._checked < self.refresh_seconds:
                return False
            changed = self._stored_generation() != self.generation
            if changed:  # (a rebuild elsewhere may also have made the chunks collection again)
                self.places = self._has_place_fields()
                self._read_manifest()
                self._seen.clear()
                self._counts.clear()
            self._checked = time.monotonic()
            return changed

    def _stored_generation(self) -> str:
        """The generation row's id now ("" when there is none yet): one point read, no time tick."""
        try:
            rows = self.client.query(self.files_name, ids=[GENERATION_KEY], output_fields=["payload"],
                                     consistency_level="Session")
        except _pymilvus().MilvusException:  # no files collection yet: nothing was committed
            return ""
        return json.loads(rows[0]["payload"]).get("id", "") if rows else ""

    def _visible(self, where: SearchFilter | None = None) -> str:
        """The expression every read uses: live versions only, and the user's filter."""
        live = f"version in {quote_list(sorted(set(self.versions.values())))}"
        user = filter_expression(where)
        return f"{live} and ({user})" if user else live

    # -- reading -------------------------------------------------------------------

    def count(self, where: SearchFilter | None = None) -> int:
        if self.manifest is None:
            return 0
        where = active(where)
        if where is None:
            return self.manifest.chunk_count
        if where not in self._counts:
            rows = self.client.query(self.chunks_name, filter=self._visible(where), output_fields=["count(*)"],
                                     consistency_level="Strong")
            self._counts[where] = int(rows[0]["count(*)"]) if rows else 0
        return self._counts[where]

    def stats(self) -> dict:
        m = self.manifest
        return {
            "documents": len(m.files), "articles": m.article_count, "chunks": m.chunk_count,
            "embedding_model": m.embedding_model, "dimension": m.dimension, "chunk_size": m.chunk_size,
            "chunk_overlap": m.chunk_overlap, "built_at": m.built_at, "build_seconds": m.build_seconds,
            "dense_index": f"milvus hnsw (M {HNSW_M}, efConstruction {HNSW_EF_CONSTRUCTION}, ef {HNSW_EF_SEARCH})"
                           + ("" if self.bm25 else "; no BM25 (dense only)"),
            "store": f"milvus {self.uri}",
        }

    def documents(self) -> list[FileEntry]:
        return sorted(self.manifest.files.values(), key=lambda f: f.source) if self.manifest else []

    def dense_search(self, query_vector: np.ndarray, k: int, where: SearchFilter | None = None) -> Hits:
        if not self.count() or k <= 0:
            return []
        found = self.client.search(
            self.chunks_name, data=[np.asarray(query_vector, dtype=np.float32).tolist()], anns_field="vector",
            limit=min(k, MAX_SEARCH_LIMIT), filter=self._visible(where), output_fields=self._output,
            search_params={"metric_type": "IP", "params": {"ef": max(k, HNSW_EF_SEARCH)}}, consistency_level="Strong",
        )
        return [(self._remember(hit["entity"]), float(hit["distance"])) for hit in found[0]]

    def lexical_search(self, query: str, k: int, where: SearchFilter | None = None) -> Hits:
        from rag.store.tokenize import tokenize

        terms = self._terms(tokenize(query))
        if not self.bm25 or not terms or not self.count() or k <= 0:
            return []
        found = self.client.search(
            self.chunks_name, data=[terms], anns_field="sparse", limit=min(k, MAX_SEARCH_LIMIT),
            filter=self._visible(where), output_fields=self._output, search_params={"metric_type": "BM25"},
            consistency_level="Strong",
        )
        sign = -1.0 if self.lite else 1.0  # Milvus Lite reports BM25 scores negated
        hits = [(self._remember(hit["entity"]), sign * float(hit["distance"])) for hit in found[0]]
        return sorted([hit for hit in hits if hit[1] > 0], key=lambda hit: -hit[1])

    def _remember(self, entity: dict) -> str:
        """Keep a search hit's chunk for ``get_chunks``; its id."""
        if len(self._seen) >= SEEN_LIMIT:
            self._seen.clear()
        self._seen[entity["chunk_id"]] = _chunk_of(entity)
        return entity["chunk_id"]

    def get_chunks(self, ids: Sequence[str]) -> list[Chunk]:
        found = {}
        for chunk_id in ids:  # .get: another thread's search may clear the cache meanwhile
            if (chunk := self._seen.get(chunk_id)) is not None:
                found[chunk_id] = chunk
        for part in iter_batches([i for i in dict.fromkeys(ids) if i not in found], ID_SLICE):
            expr = f"{self._visible()} and chunk_id in {quote_list(part)}"
            for row in self.client.query(self.chunks_name, filter=expr, output_fields=self._output, consistency_level="Strong"):
                found[row["chunk_id"]] = _chunk_of(row)
        return [found[chunk_id] for chunk_id in ids if chunk_id in found]

    def all_chunks(self) -> list[Chunk]:
        if not self.count():
            return []
        rows = self._query_all(self.chunks_name, self._visible(), self._output)
        chunks = [_chunk_of(row) for row in rows]
        return sorted(chunks, key=lambda c: (c.file or c.source, c.source, c.article_index, c.position))

    # -- capabilities --------------------------------------------------------------

    def vectors_of(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        if not self.count():
            return found
        for part in iter_batches(list(dict.fromkeys(ids)), ID_SLICE):
            expr = f"{self._visible()} and chunk_id in {quote_list(part)}"
            for row in self.client.query(self.chunks_name, filter=expr, output_fields=["chunk_id", "vector"],
                                         consistency_level="Strong"):
                found[row["chunk_id"]] = np.asarray(row["vector"], dtype=np.float32)
        return found

    def dense_scores(self, query_vector: np.ndarray, ids: Sequence[str]) -> np.ndarray:
        vectors = self.vectors_of(ids)
        return np.array([float(vectors[chunk_id] @ query_vector) for chunk_id in ids], dtype=np.float32)

    def dense_moments(self, where: SearchFilter | None = None) -> ScoreMoments:
        """From every visible vector, read once (the local store has them in memory)."""
        rows = self._query_all(self.chunks_name, self._visible(where), ["vector"])
        dimension = self.manifest.dimension if self.manifest else 1
        vectors = np.asarray([row["vector"] for row in rows], dtype=np.float32).reshape(-1, dimension)
        return ScoreMoments(vectors)

    # -- writing -------------------------------------------------------------------

    def commit(self, changes: ChangeSet) -> None:
        """Insert new versions, switch the manifest rows file by file, delete what no row lists."""
        manifest = changes.manifest
        self.prepare(manifest.dimension)
        new_versions = {batch.entry.source: batch.written or uuid.uuid4().hex[:16] for batch in changes.batches}
        for batch in changes.batches:
            if batch.written is None:  # rows a Ray writer inserted are already there (rag/store/ray_ingest.py)
                self.insert_rows(batch.chunks, batch.vectors, new_versions[batch.entry.source])
        commit_stage("rows inserted")
        meta = {k: v for k, v in manifest.to_json().items() if k not in ("files", "counts", "checksums")}
        self.client.upsert(self.files_name, [_files_row(META_KEY, meta)])
        for batch in changes.batches:
            source = batch.entry.source
            payload = {"entry": batch.entry.__dict__, "version": new_versions[source]}
            self.client.upsert(self.files_name, [_files_row(FILE_PREFIX + source, payload)])
            commit_stage("file switched")
        gone = [source for source in self.versions if source not in manifest.files]
        for part in iter_batches(gone, ID_SLICE):
            self.client.delete(self.files_name, filter=f"key in {quote_list(FILE_PREFIX + s for s in part)}")
        generation = uuid.uuid4().hex
        self.client.upsert(self.files_name, [_files_row(GENERATION_KEY, {"id": generation})])
        commit_stage("manifest switched")
        live = {source: version for source, version in self.versions.items() if source in manifest.files}
        live.update(new_versions)
        self._delete_stale(set(live.values()))
        # Rows not yet flushed are searched without their index: Milvus Lite rebuilds the BM25
        # index of its unflushed rows on every search (3 s at 5,000 chunks, 20 ms once flushed).
        self.client.flush(self.chunks_name)
        self.manifest, self.versions, self.generation = manifest, live, generation
        self._seen.clear()
        self._counts.clear()

    def prepare(self, dimension: int) -> None:
        """Create the collections when missing; recreate them for a model of another dimension.

        Called by ``commit``, and by an ingest through Ray before its writers insert rows.
        """
        if self.client.has_collection(self.chunks_name):
            fields = self.client.describe_collection(self.chunks_name)["fields"]
            stored = next((f["params"].get("dim") for f in fields if f["name"] == "vector"), None)
            # vectors of another model cannot be reused; a rebuild also remakes a collection without page and bbox
            if stored is not None and int(stored) == dimension and (self.places or not self.fresh):
                return
            self.client.drop_collection(self.chunks_name)
            self.versions = {}
        self._create_chunks_collection(dimension)
        self.places = True
        if not self.client.has_collection(self.files_name):
            self._create_files_collection()

    def _create_chunks_collection(self, dimension: int, *, places: bool = True) -> None:
        pymilvus = _pymilvus()
        DataType = pymilvus.DataType
        schema = self.client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("row_id", DataType.VARCHAR, max_length=200, is_primary=True)
        for name, limit in _TEXT_FIELDS.items():
            if name == "tokens" and not self.bm25:
                continue
            extra = {"enable_analyzer": True, "analyzer_params": self._analyzer()} if name == "tokens" else {}
            schema.add_field(name, DataType.VARCHAR, max_length=limit, **extra)
        for name in _INT_FIELDS:
            schema.add_field(name, DataType.INT64)
        if places:  # False only to make the layout of an index from before they were stored (tests)
            schema.add_field("page", DataType.INT64)
            schema.add_field("bbox", DataType.JSON)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
        index = self.client.prepare_index_params()
        hnsw = {"M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION}
        # Milvus Lite reads index parameters only when nested under "params"; a server reads them flat.
        index.add_index(field_name="vector", index_type="HNSW", metric_type="IP",
                        params={"params": hnsw} if self.lite else hnsw)
        if self.bm25:
            schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
            schema.add_function(pymilvus.Function(name="bm25", function_type=pymilvus.FunctionType.BM25,
                                                  input_field_names=["tokens"], output_field_names=["sparse"]))
            index.add_index(field_name="sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
        self.client.create_collection(self.chunks_name, schema=schema, index_params=index, consistency_level="Strong")

    def _analyzer(self) -> dict[str, Any]:
        """Split on spaces only: the terms are already the project's (see :meth:`_terms`)."""
        return {"type": "standard"} if self.lite else {"tokenizer": "whitespace"}

    def _terms(self, tokens: list[str]) -> str:
        """The text Milvus's analyzer reads: our BM25 terms joined by spaces.

        Milvus Lite has no whitespace tokenizer, and its standard one cuts some of our terms
        again (``2022年`` into ``2022`` and ``年``, ``3.5`` at the dot), which changes every
        document length and so every score. There each term is written as a short ASCII
        digest (``t`` and 12 hex digits) that the standard tokenizer keeps whole: the same
        terms, counted the same way, as the local store's BM25.
        """
        if not self.lite:
            return " ".join(tokens)
        return " ".join("t" + hashlib.blake2b(token.encode("utf-8"), digest_size=6).hexdigest() for token in tokens)

    def _create_files_collection(self) -> None:
        DataType = _pymilvus().DataType
        schema = self.client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("key", DataType.VARCHAR, max_length=1100, is_primary=True)
        schema.add_field("payload", DataType.VARCHAR, max_length=65535)
        schema.add_field("dummy", DataType.FLOAT_VECTOR, dim=2)  # Milvus requires a vector field
        index = self.client.prepare_index_params()
        index.add_index(field_name="dummy", index_type="FLAT", metric_type="L2")
        self.client.create_collection(self.files_name, schema=schema, index_params=index, consistency_level="Strong")

    def written_chunk_ids(self, versions: Sequence[str]) -> dict[str, set[str]]:
        """Chunk ids already inserted under each of ``versions``, listed or not by the manifest.

        An ingest through Ray names each file's new version after its content (see
        rag/store/ray_ingest.py), so rows a failed run inserted are found here by the next
        run, which embeds only the rest (rows of unlisted versions live until the next commit).
        """
        found: dict[str, set[str]] = {version: set() for version in versions}
        if not versions or not self.client.has_collection(self.chunks_name):
            return found
        self.client.load_collection(self.chunks_name)
        for row in self._query_all(self.chunks_name, f"version in {quote_list(sorted(found))}", ["version", "chunk_id"]):
            found[row["version"]].add(row["chunk_id"])
        return found

    def insert_rows(self, chunks: Sequence[Chunk], vectors: np.ndarray, version: str) -> None:
        """Write chunks (with their vectors and BM25 terms) under ``version``; no search sees them
        until a manifest row lists that version. An upsert: the row id is version and chunk id,
        so a batch written again (a retried Ray task) replaces its rows instead of doubling them."""
        from rag.store.local_store import lexical_text
        from rag.store.tokenize import tokenize

        rows = []
        for chunk, vector in zip(chunks, vectors):
            row = {"row_id": f"{version}:{chunk.chunk_id}", "version": version, "vector": np.asarray(vector, np.float32).tolist(),
                   "day": chunk.date if chunk.date and _ISO_DAY.match(chunk.date) else "",
                   **{name: getattr(chunk, name) for name in ("chunk_id", "file", "source", "title", "date", "newspaper", "text")},
                   **{name: int(getattr(chunk, name)) for name in _INT_FIELDS}}
            row["file"] = chunk.file or chunk.source
            if self.places:
                row.update(page=chunk.page or 0, bbox={"box": [float(v) for v in chunk.bbox]} if chunk.bbox else {})
            if self.bm25:
                row["tokens"] = self._terms(tokenize(lexical_text(chunk)))
            rows.append({k: _cut(v, _TEXT_FIELDS[k]) if k in _TEXT_FIELDS else v for k, v in row.items()})
        for part in iter_batches(rows, INSERT_SLICE):
            self.client.upsert(self.chunks_name, list(part))

    def _delete_stale(self, live_versions: set[str]) -> None:
        expr = f"version not in {quote_list(sorted(live_versions))}" if live_versions else 'version != ""'
        self.client.delete(self.chunks_name, filter=expr)

    def _query_all(self, collection: str, expr: str, fields: list[str]) -> list[dict]:
        iterator = self.client.query_iterator(collection, batch_size=1000, filter=expr, output_fields=fields,
                                              consistency_level="Strong")
        rows = []
        try:
            while batch := iterator.next():
                rows.extend(batch)
        finally:
            iterator.close()
        return rows


def _files_row(key: str, payload: dict) -> dict:
    return {"key": key, "payload": json.dumps(payload, ensure_ascii=False), "dummy": [0.0, 0.0]}


def _chunk_of(row: dict) -> Chunk:
    def text(name):
        return row.get(name) or None

    return Chunk(chunk_id=row["chunk_id"], text=row["text"], source=row["source"], title=text("title"),
                 date=text("date"), newspaper=text("newspaper"), file=row.get("file") or "",
                 **{name: int(row[name]) for name in _INT_FIELDS},
                 page=int(row["page"]) if row.get("page") else None, bbox=(row.get("bbox") or {}).get("box"))


def _server_has_bm25(client, uri: str) -> bool:
    """Milvus computes BM25 from 2.5 on; an older server is used dense-only (said once per URI)."""
    version = str(client.get_server_version())
    match = re.search(r"(\d+)\.(\d+)", version)
    if match and (int(match.group(1)), int(match.group(2))) >= (2, 5):
        return True
    if uri not in _warned_dense_only:
        _warned_dense_only.add(uri)
        print(f"note: Milvus {version} at {uri} has no BM25 (needs 2.5 or later): searching dense-only.", file=sys.stderr)
    return False
