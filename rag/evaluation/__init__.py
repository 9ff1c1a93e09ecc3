"""Evaluation: the question-set schema (``questions``), metrics and the report."""
