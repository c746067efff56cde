"""The composition root: the one place that loads models and opens stores, lazily and once.

Commands ask the runtime for what they need; nothing is loaded until first asked for, so
``babelrag --help`` and ``babelrag config show`` stay instant.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from babelrag.agents.config import Settings
from babelrag.stores.errors import ModelError
from babelrag.stores.progress import NullProgress, Progress

if TYPE_CHECKING:
    from chromadb.api import ClientAPI

    from babelrag.agents.modelpack.registry import ModelPack
    from babelrag.stores.chunking import Chunker
    from babelrag.stores.embeddings import SentenceTransformerEmbeddings
    from babelrag.stores.ingest import Ingestor
    from babelrag.stores.knowledge_store import KnowledgeStore
    from babelrag.stores.retriever import KnowledgeRetriever


def quiet_hf_logging() -> None:
    """Hugging Face progress bars and warnings would drown our own output."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        from huggingface_hub.utils import disable_progress_bars

        disable_progress_bars()
    except ImportError:  # pragma: no cover
        pass


class Runtime:
    """Builds models, stores and chains from one :class:`Settings`."""

    def __init__(self, settings: Settings, progress: Progress | None = None) -> None:
        self.settings = settings
        self.progress = progress or NullProgress()

    @cached_property
    def model_pack(self) -> ModelPack:
        from babelrag.agents.modelpack.registry import ModelPack

        return ModelPack(self.settings.cache_dir, self.progress)

    def resolve(self, spec: str) -> str:
        from babelrag.agents.modelpack.registry import resolve_model

        return resolve_model(spec, self.settings.cache_dir)

    @cached_property
    def embedder(self) -> SentenceTransformerEmbeddings:
        from babelrag.stores.embeddings import SentenceTransformerEmbeddings

        spec = self.settings.models.embedder
        location = self.resolve(spec)
        quiet_hf_logging()
        with self.progress.task(f"loading embedder {spec}"):
            model = _load_sentence_transformer(location, self.settings.models.device)
        return SentenceTransformerEmbeddings(
            model,
            model_id=spec if not Path(spec).expanduser().exists() else location,
            batch_size=self.settings.models.embedding_batch_size,
            query_prompt=self.settings.models.query_prompt,
            document_prompt=self.settings.models.document_prompt,
        )

    @cached_property
    def chroma(self) -> ClientAPI:
        from babelrag.stores.knowledge_store import open_chroma_client

        return open_chroma_client(self.settings.chroma_dir)

    def store(self, *, create: bool = False) -> KnowledgeStore:
        from babelrag.stores.knowledge_store import KnowledgeStore

        return KnowledgeStore(
            client=self.chroma, name=self.settings.kb, embedder=self.embedder, create=create
        )

    def chunker(self) -> Chunker:
        from babelrag.stores.chunking import Chunker

        cfg = self.settings.ingest
        return Chunker(
            self.embedder.count_tokens,
            max_tokens=min(cfg.chunk_tokens, self.embedder.max_tokens),
            overlap_tokens=cfg.chunk_overlap,
        )

    def ingestor(self) -> Ingestor:
        from babelrag.stores.ingest import Ingestor
        from babelrag.stores.langdetect import detect_language

        return Ingestor(
            store=self.store(create=True),
            chunker=self.chunker(),
            detect_language=detect_language,
            batch_size=self.settings.models.embedding_batch_size,
        )

    def retriever(
        self, *, k: int | None = None, lang: str | None = None, where: dict[str, Any] | None = None
    ) -> KnowledgeRetriever:
        from babelrag.stores.retriever import KnowledgeRetriever

        return KnowledgeRetriever(store=self.store(), k=k or self.settings.search.k, lang=lang, where=where)


def _load_sentence_transformer(location: str, device: str):
    from sentence_transformers import SentenceTransformer

    local = Path(location).exists()
    try:
        return SentenceTransformer(location, device=device, local_files_only=local)
    except OSError as exc:
        raise ModelError(
            f"cannot load the embedding model {location!r}: {exc}",
            hint="check the name, your network (for Hugging Face ids) or run `babelrag models install`",
        ) from exc
