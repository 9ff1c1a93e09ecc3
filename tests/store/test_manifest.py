"""The processing fingerprint: what re-chunks an index on the next ingest."""

from rag.store import manifest


def test_the_fingerprint_follows_the_bm25_stopwords_not_the_question_lists(monkeypatch):
    import rag.store.tokenize as tokenize
    import rag.text.lexicon as lexicon

    before = manifest.processing_fingerprint()
    monkeypatch.setattr(lexicon, "ASPECT_VERBS", lexicon.ASPECT_VERBS | {"着手"})  # question analysis only
    assert manifest.processing_fingerprint() == before
    monkeypatch.setattr(tokenize, "STOPWORDS", tokenize.STOPWORDS | {"着手"})  # changes BM25 terms
    assert manifest.processing_fingerprint() != before
