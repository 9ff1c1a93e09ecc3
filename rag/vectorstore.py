"""The index as a LangChain ``VectorStore``, for users who build their own chains.

``similarity_search``, ``similarity_search_with_score`` and ``as_retriever(search_kwargs=…)``
run this project's search (hybrid by default, ``RAG_RETRIEVAL_MODE``), with filters given as
``filter={"date_from": …, "date_to": …, "newspaper": …, "source": …}``. ``add_texts`` /
``add_documents`` and ``delete`` go through the incremental ingest: each text is saved as a
one-record JSON Lines file in the upload folder (its metadata's ``title``, ``date``,
``newspaper`` kept), then indexed like any other file, and deleting removes it again. The
backend is whichever ``RAG_STORE`` names (local files or Milvus).

Scores are the search's own (fused z-scores in hybrid mode): higher is better, not bounded.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Iterable, Sequence

from langchain_core.documents import Document
from langchain_core.vectorstores import VectorStore

from rag.config import Settings
from rag.errors import InputError
from rag.store.filters import SearchFilter
from rag.ui.knowledge_base import safe_filename  # the upload folder's own naming rule

_METADATA_FIELDS = ("title", "date", "newspaper")


class NewsVectorStore(VectorStore):
    """This project's index behind LangChain's ``VectorStore`` interface."""

    def __init__(self, settings: Settings | None = None):
        self.settings = settings or Settings.from_env()

    def _searcher(self, reload: bool = False):
        from rag.retrieval import load_searcher

        return load_searcher(self.settings, reload=reload)

    @property
    def embeddings(self):
        """The index's embedding model (a LangChain ``Embeddings``)."""
        return self._searcher().embeddings

    def similarity_search_with_score(
        self, query: str, k: int = 4, filter: dict | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        from rag.retrieval import to_document

        where = SearchFilter.from_mapping(filter)
        mode = kwargs.get("mode", self.settings.retrieval_mode)
        return [(to_document(r), float(r.score)) for r in self._searcher().search(query, k, mode, where)]

    def similarity_search(self, query: str, k: int = 4, **kwargs: Any) -> list[Document]:
        return [document for document, _ in self.similarity_search_with_score(query, k, **kwargs)]

    def add_texts(
        self, texts: Iterable[str], metadatas: list[dict] | None = None, *, ids: list[str] | None = None, **kwargs: Any
    ) -> list[str]:
        """Index ``texts``; returns their ids (the file each was saved as, which ``delete`` takes)."""
        from rag.store import ingest

        texts = list(texts)
        metadatas = metadatas or [{} for _ in texts]
        ids = list(ids) if ids else [hashlib.sha256(t.encode("utf-8")).hexdigest()[:16] for t in texts]
        if not (len(texts) == len(metadatas) == len(ids)):
            raise InputError("add_texts needs as many metadatas and ids as texts.")
        self.settings.upload_dir.mkdir(parents=True, exist_ok=True)
        paths = []
        for text, metadata, ident in zip(texts, metadatas, ids):
            if not str(ident).strip():
                raise InputError(f"Unusable id {ident!r}.")
            record = {"text": text, **{k: str(metadata[k]) for k in _METADATA_FIELDS if metadata.get(k)}}
            path = self.settings.upload_dir / safe_filename(f"{ident}.jsonl")
            path.write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")
            paths.append(path)
        report = ingest(paths, self.settings)
        if report.failed:
            raise InputError("; ".join(f"{name}: {why}" for name, why in report.failed.items()))
        self._searcher(reload=True)
        return [path.name for path in paths]

    def delete(self, ids: Sequence[str] | None = None, **kwargs: Any) -> bool:
        """Remove the documents ``add_texts`` returned these ids for (or any indexed file by name)."""
        from rag.store import remove_sources

        if not ids:
            return False
        remove_sources(list(ids), self.settings)
        for name in ids:
            (self.settings.upload_dir / safe_filename(name)).unlink(missing_ok=True)
        self._searcher(reload=True)
        return True

    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        from rag.retrieval import to_document
        from rag.records import SearchResult

        return [to_document(SearchResult(chunk, 0.0)) for chunk in self._searcher().store.get_chunks(list(ids))]

    @classmethod
    def from_texts(cls, texts: list[str], embedding=None, metadatas: list[dict] | None = None, *,
                   settings: Settings | None = None, **kwargs: Any) -> "NewsVectorStore":
        """A store over ``settings``' index with ``texts`` added. ``embedding`` is not used: the
        index embeds with its own model (``RAG_EMBEDDING_MODEL``), so its vectors stay comparable."""
        store = cls(settings)
        store.add_texts(texts, metadatas, **kwargs)
        return store

