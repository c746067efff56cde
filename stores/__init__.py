"""Storage and text: files in, embedded chunks in Chroma, passages out; saved chat sessions.

Nothing here reads global configuration or loads a model; every class takes its dependencies as
arguments. ``loaders`` (files to LangChain Documents) with ``text_decoding``, ``html_text``,
``markdown_text``, ``jsonl_records``; ``chunking`` (a TextSplitter sized in embedder tokens);
``embeddings`` (sentence-transformers with the model's prompts); ``knowledge_store`` (one knowledge
base = one Chroma collection) and ``catalog`` (listing and dropping them); ``ingest`` (idempotent,
incremental); ``lexical`` (CJK-aware BM25); ``langdetect``, ``cjk``; ``sessions``; ``errors``,
``progress``, ``fakes``.
"""
