"""Evaluation: test sets, ranking metrics, and retrieval and answer benchmarks on real data.

``beir`` reads and writes the BEIR layout; ``debfetch``, ``debref_html`` and ``debref`` build test
sets from Debian Reference in several languages (packages fetched with apt-get, sections aligned
across languages); ``metrics`` computes Recall/MRR/nDCG; ``retrieval_eval`` and ``answer_eval`` run
modes or chains over a test set and report; ``harness`` connects them to the composition root (a
cached knowledge base per corpus, the retrieval modes built from the one retriever).
"""
