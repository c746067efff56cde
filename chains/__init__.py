"""The LangChain chains and the local models they run.

Models: ``generator`` (a local chat model), ``translate`` (query translation, by the generator or a
seq2seq model, cached). Chains, each a Runnable traced step by step: ``retrieval`` (the one
cross-lingual retriever: query + translations + BM25, fused by rank), ``answer`` (retrieve, pack,
generate, ground, in the asker's language), ``expand`` (new cited sentences for a draft's section),
``condense`` (a follow-up rewritten to stand alone). Shared parts: ``prompting`` (templates as files),
``grounding`` (attribute-or-abstain), ``citations``, ``fusion`` (RRF with per-list provenance).
"""
