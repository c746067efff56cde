"""A scripted chat model with what the chains need of :class:`LocalChatModel` (token counts, decoding)."""

from __future__ import annotations

from typing import Any

from langchain_core.language_models.fake_chat_models import FakeListChatModel
from pydantic import Field

from babelrag.chains.generator import Decoding
from babelrag.chains.grounding import Grounder
from babelrag.stores.fakes import fake_tokens
from babelrag.stores.knowledge_store import KnowledgeStore


class FakeLLM(FakeListChatModel):
    """Replies in order and records every prompt it was given."""

    decoding: Decoding = Decoding()
    seen: list[Any] = Field(default_factory=list)

    def count_tokens(self, text: str) -> int:
        return len(fake_tokens(text))

    def prompt_tokens(self, messages) -> int:
        return sum(self.count_tokens(str(m.content)) for m in messages)

    def invoke(self, messages, config=None, **kwargs):  # type: ignore[override]
        self.seen.append(messages)
        kwargs.pop("decoding", None)
        return super().invoke(messages, config, **kwargs)

    def stream(self, messages, config=None, **kwargs):  # type: ignore[override]
        self.seen.append(messages)
        kwargs.pop("decoding", None)
        yield from super().stream(messages, config, **kwargs)


def grounder_for(store: KnowledgeStore, min_similarity: float = 0.0) -> Grounder:
    """The grounder the composition root would build for ``store``."""
    return Grounder(
        embed_sentences=store.embedder.embed_queries,
        passage_vectors=store.vectors,
        min_similarity=min_similarity,
    )
