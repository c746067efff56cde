"""Evaluation: test sets (BEIR layout, Debian Reference), ranking metrics and retrieval benchmarks.

Nothing here loads a model: retrieval modes are passed in as functions by the caller.
"""
