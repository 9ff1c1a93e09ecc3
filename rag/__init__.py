"""Chinese news question-answering assistant: ingest newspapers, retrieve, answer with citations."""

__version__ = "0.1.0"
