"""Text features shared by retrieval and answering.

- ``features``: normalised forms, character bigrams, overlaps;
- ``question``: what a question asks about (``QuestionProfile``);
- ``matching``: how well one sentence matches a question (``lexical_score``).

Retrieval re-ranks passages by their best sentence and the answerer picks sentences by
the same measure, so both read it from here.
"""
