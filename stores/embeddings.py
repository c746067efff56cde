"""LangChain ``Embeddings`` over a sentence-transformers model, with the model's prompts.

e5 models need ``query: `` before queries and ``passage: `` before passages; without them
cross-lingual retrieval gets markedly worse. The prompts come from the model's own config
(``prompts`` in config_sentence_transformers.json) unless given explicitly.

The model is a ``SentenceTransformer`` (fp32 torch) or an :class:`OnnxSentenceEncoder` (an int8
ONNX graph of the same model, ``models.embedding_backend = "onnx-int8"``). Their vectors are close
but not interchangeable, so the composition root gives them different ``model_id`` values
(``agents/hf_models.py``, ``embedder_id``, has the measurements).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from langchain_core.embeddings import Embeddings

if TYPE_CHECKING:
    import numpy as np

_QUERY_NAMES = ("query",)
_DOCUMENT_NAMES = ("document", "passage", "corpus")
#: Prompts of well-known models whose hub configs do not carry them.
_KNOWN_PROMPTS = {"e5": ("query: ", "passage: ")}


@runtime_checkable
class TextEmbedder(Protocol):
    """What the store and the chunker need from an embedding model."""

    model_id: str
    dimension: int
    max_tokens: int

    def embed_documents(self, texts: list[str]) -> list[list[float]]: ...

    def embed_query(self, text: str) -> list[float]: ...

    def embed_queries(self, texts: list[str]) -> list[list[float]]: ...

    def count_tokens(self, text: str) -> int: ...


class SentenceEncoder(Protocol):
    """What :class:`SentenceTransformerEmbeddings` uses of a model: ``SentenceTransformer`` has it,
    and so has :class:`OnnxSentenceEncoder`."""

    tokenizer: Any
    max_seq_length: int
    prompts: dict[str, str]

    def get_embedding_dimension(self) -> int | None: ...

    def encode(self, sentences: list[str], **kwargs: Any) -> np.ndarray: ...


class SentenceTransformerEmbeddings(Embeddings):
    """Normalised embeddings from a loaded sentence encoder (built by the composition root)."""

    def __init__(
        self,
        model: SentenceEncoder,
        *,
        model_id: str,
        batch_size: int = 16,
        query_prompt: str | None = None,
        document_prompt: str | None = None,
        show_progress: bool = False,
    ) -> None:
        self.model = model
        self.model_id = model_id
        self.batch_size = batch_size
        self.show_progress = show_progress
        known = next((p for key, p in _KNOWN_PROMPTS.items() if key in model_id.lower()), ("", ""))
        prompts = getattr(model, "prompts", None) or {}
        self.query_prompt = _first(query_prompt, prompts, _QUERY_NAMES, known[0])
        self.document_prompt = _first(document_prompt, prompts, _DOCUMENT_NAMES, known[1])
        self.dimension = int(model.get_embedding_dimension())
        tokenizer_limit = getattr(model, "max_seq_length", None) or 512
        self.max_tokens = int(tokenizer_limit) - 2 - self._raw_count(self.document_prompt)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._encode(texts, self.document_prompt).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self._encode([text], self.query_prompt)[0].tolist()

    def embed_queries(self, texts: list[str]) -> list[list[float]]:
        """Several queries in one batch (a query and its translations; answer sentences to ground)."""
        return self._encode(texts, self.query_prompt).tolist()

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` alone (no prompt, no special tokens): the unit chunks are sized in."""
        return self._raw_count(text)

    def _raw_count(self, text: str) -> int:
        if not text:
            return 0
        return len(self.model.tokenizer(text, add_special_tokens=False, truncation=False)["input_ids"])

    def _encode(self, texts: list[str], prompt: str):
        if not texts:
            import numpy as np

            return np.zeros((0, self.dimension), dtype="float32")
        return self.model.encode(
            list(texts),
            prompt=prompt or None,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=self.show_progress,
        )


class OnnxSentenceEncoder:
    """A sentence-embedding ONNX graph run by ONNX Runtime, in place of a ``SentenceTransformer``.

    The graph takes token ids and the attention mask and returns the sentence vector: the
    transformer, pooling and normalisation are inside it, so here only prompts, tokenising and
    batching happen, the way ``SentenceTransformer.encode`` does them (prompt prepended, longest
    texts batched together so little is padded, cut at ``max_seq_length``). The session and the
    tokenizer are loaded by the composition root.

    An int8 graph quantizes activations with one scale per run, so in a batch a text's vector
    moves slightly with its batch-mates (a passage: cosine 0.991 to itself embedded alone). With a
    batch size of 1 (``models.embedding_batch_size``) every text runs by itself: reproducible
    vectors, each closer to the fp32 model's
    (269 Debian Reference passages: cosine to fp32 min 0.994 / mean 0.9971 against 0.989 /
    0.9966) and faster on a CPU (``make bench``); but dense retrieval over all Debian Reference
    queries ranked 0.005 MRR@10 lower on average (-0.008 to +0.001 over six sets), so batches stay
    the default (README "int8 embeddings").
    """

    def __init__(
        self,
        session: Any,
        tokenizer: Any,
        *,
        dimension: int,
        max_seq_length: int,
        prompts: Mapping[str, str] | None = None,
    ) -> None:
        self.session = session
        self.tokenizer = tokenizer
        self.max_seq_length = max_seq_length
        self.prompts = dict(prompts or {})
        self._dimension = dimension
        self._inputs = [i.name for i in session.get_inputs()]

    def get_embedding_dimension(self) -> int:
        return self._dimension

    def encode(
        self,
        sentences: Sequence[str],
        *,
        prompt: str | None = None,
        batch_size: int = 32,
        normalize_embeddings: bool = False,
        **_: Any,  # convert_to_numpy, show_progress_bar: always an array, never a bar
    ) -> np.ndarray:
        import numpy as np

        texts = [f"{prompt}{t}" if prompt else t for t in sentences]
        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            tokens = self.tokenizer(
                [texts[i] for i in rows],
                padding=True,
                truncation=True,
                max_length=self.max_seq_length,
                return_tensors="np",
            )
            feeds = {name: np.asarray(tokens[name], dtype=np.int64) for name in self._inputs}
            out[rows] = self.session.run(None, feeds)[0]
        if normalize_embeddings and len(out):
            out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out


class FastTokenizer:
    """The calls the embedders make of a Hugging Face tokenizer, on the ``tokenizers`` library alone.

    Loading ``transformers`` for its tokenizer class imports torch (1.5-2 s): the int8 embedder
    exists to be fast, so it reads ``tokenizer.json`` directly. Special tokens, truncation (special
    tokens included) and padding to the longest text in a batch are what transformers does.
    """

    def __init__(self, tokenizer: Any) -> None:
        self._tokenizer = tokenizer
        padding = tokenizer.padding or {}
        self.pad_id = int(padding.get("pad_id", 0))
        self.pad_token = padding.get("pad_token", "<pad>")

    @classmethod
    def from_file(cls, path: str) -> FastTokenizer:
        from tokenizers import Tokenizer

        return cls(Tokenizer.from_file(path))

    def __call__(
        self,
        texts: str | Sequence[str],
        *,
        add_special_tokens: bool = True,
        truncation: bool = False,
        max_length: int | None = None,
        padding: bool = False,
        return_tensors: str | None = None,
        **_: Any,
    ) -> dict[str, Any]:
        single = isinstance(texts, str)
        batch = [texts] if single else list(texts)
        tok = self._tokenizer
        tok.no_padding()
        if truncation and max_length:
            tok.enable_truncation(max_length)
        else:
            tok.no_truncation()
        encodings = tok.encode_batch(batch, add_special_tokens=add_special_tokens)
        ids = [e.ids for e in encodings]
        masks = [e.attention_mask for e in encodings]
        if padding or return_tensors == "np":
            width = max((len(i) for i in ids), default=0)
            ids = [i + [self.pad_id] * (width - len(i)) for i in ids]
            masks = [m + [0] * (width - len(m)) for m in masks]
        if return_tensors == "np":
            import numpy as np

            return {
                "input_ids": np.asarray(ids, dtype=np.int64),
                "attention_mask": np.asarray(masks, dtype=np.int64),
            }
        if single:
            return {"input_ids": ids[0], "attention_mask": masks[0]}
        return {"input_ids": ids, "attention_mask": masks}


def _first(explicit: str | None, prompts: dict[str, str], names: tuple[str, ...], fallback: str) -> str:
    if explicit is not None:
        return explicit
    for name in names:
        if name in prompts:
            return prompts[name]
    return fallback
