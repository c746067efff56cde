"""LangChain ``Embeddings`` over a sentence-transformers model, with the model's prompts.

e5 models need ``query: `` before queries and ``passage: `` before passages; without them
cross-lingual retrieval gets markedly worse. The prompts come from the model's own config
(``prompts`` in config_sentence_transformers.json) unless given explicitly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

from langchain_core.embeddings import Embeddings

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

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


class SentenceTransformerEmbeddings(Embeddings):
    """Normalised embeddings from a loaded ``SentenceTransformer`` (built by the composition root)."""

    def __init__(
        self,
        model: SentenceTransformer,
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


def _first(explicit: str | None, prompts: dict[str, str], names: tuple[str, ...], fallback: str) -> str:
    if explicit is not None:
        return explicit
    for name in names:
        if name in prompts:
            return prompts[name]
    return fallback
