"""The knowledge store: files in, embedded chunks in Chroma, passages out.

Nothing here reads global configuration; every class takes its dependencies as arguments.
"""
