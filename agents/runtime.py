"""The composition root: the one place that loads models, opens Chroma and builds chains.

Commands ask the runtime for what they need; nothing is loaded until first asked for, so
``babelrag --help`` and ``babelrag config show`` stay instant, and administration (``kb list``,
``kb info``, ``remove``) never loads the embedding model. A runtime and its settings are never
changed after they are built: :meth:`Runtime.derive` and :meth:`Runtime.with_kb` make new ones that
share the models already loaded.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from babelrag.agents.config import Settings
from babelrag.agents.hf_models import (
    choose_engine,
    gguf_file,
    load_causal_lm,
    load_llama,
    load_sentence_transformer,
    load_seq2seq,
    quiet_hf_logging,
    translation_pair,
)
from babelrag.stores.errors import ConfigError
from babelrag.stores.progress import NullProgress, Progress

#: A translation prompt (instructions, five examples, the query) and its one-line answer fit easily.
_TRANSLATION_CONTEXT = 1024

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from langchain_core.prompts import ChatPromptTemplate

    from babelrag.agents.dialogue import Dialogue
    from babelrag.agents.writer import WritingAssistant
    from babelrag.chains.answer import AnswerChain
    from babelrag.chains.condense import CondenseChain
    from babelrag.chains.expand import ExpandChain
    from babelrag.chains.generator import Decoding, LocalChatModel
    from babelrag.chains.grounding import Grounder
    from babelrag.chains.retrieval import CrossLingualRetriever
    from babelrag.chains.translate import Translator
    from babelrag.stores.catalog import Catalog
    from babelrag.stores.chunking import Chunker
    from babelrag.stores.embeddings import SentenceTransformerEmbeddings
    from babelrag.stores.graph_dumps import DumpOptions
    from babelrag.stores.ingest import Ingestor
    from babelrag.stores.knowledge_store import KnowledgeStore
    from babelrag.stores.lexical import BM25Index
    from babelrag.stores.reembed import ReembedReport
    from babelrag.stores.sessions import SessionStore


class Runtime:
    """Builds models, stores and chains from one :class:`Settings`."""

    def __init__(self, settings: Settings, progress: Progress | None = None) -> None:
        self.settings = settings
        self.progress = progress or NullProgress()

    def derive(self, settings: Settings) -> Runtime:
        """A runtime for other settings that shares whatever loaded models they have in common.

        Scripted runs change settings per step; reloading the models for each would cost seconds
        a step. The generator is shared with its decoding replaced; the translator only while
        the translation and model settings are the same.
        """
        child = Runtime(settings, self.progress)
        same_models = settings.models == self.settings.models
        if same_models and "embedder" in self.__dict__:
            child.__dict__["embedder"] = self.embedder
        same_store = (settings.home, settings.store) == (self.settings.home, self.settings.store)
        if same_store and "chroma" in self.__dict__:
            child.__dict__["chroma"] = self.chroma
        old, new = self.settings.generation, settings.generation
        # a llama.cpp context has a fixed size and thread count: share it only while they stay
        same_engine = (old.engine, old.context_tokens, old.threads) == (
            new.engine,
            new.context_tokens,
            new.threads,
        )
        if same_models and "llm" in self.__dict__ and (same_engine or self.llm._llm_type == "transformers"):
            child.__dict__["llm"] = self.llm.model_copy(
                update={"decoding": child.decoding(), "context_tokens": new.context_tokens}
            )
        if same_models and same_engine and "translation_llm" in self.__dict__:
            child.__dict__["translation_llm"] = self.translation_llm
        if (
            same_models
            and settings.translation == self.settings.translation
            and "translator" in self.__dict__
        ):
            child.__dict__["translator"] = self.translator
        return child

    def with_kb(self, kb: str) -> Runtime:
        """The same runtime on another knowledge base (the name is validated as in settings)."""
        if kb == self.settings.kb:
            return self
        return self.derive(self.settings.model_copy(update={"kb": Settings.check_kb_name(kb)}))

    def resolve(self, spec: str) -> str:
        from babelrag.agents.modelpack.registry import resolve_model

        return resolve_model(spec, self.settings.cache_dir)

    @cached_property
    def embedder(self) -> SentenceTransformerEmbeddings:
        from babelrag.agents.hf_models import embedder_id
        from babelrag.stores.embeddings import SentenceTransformerEmbeddings

        spec = self.settings.models.embedder
        location = self.resolve(spec)
        if self.settings.models.backend == "torch":  # the int8 path never imports transformers
            quiet_hf_logging()
        with self.progress.task(f"loading embedder {spec}"):
            model = load_sentence_transformer(
                location,
                self.settings.models.device,
                backend=self.settings.models.backend,
                cache_dir=self.settings.cache_dir,
                progress=self.progress,
            )
        return SentenceTransformerEmbeddings(
            model,
            model_id=embedder_id(
                spec if not Path(spec).expanduser().exists() else location,
                self.settings.models.backend,
            ),
            batch_size=self.settings.models.embedding_batch_size,
            query_prompt=self.settings.models.query_prompt,
            document_prompt=self.settings.models.document_prompt,
        )

    @cached_property
    def chroma(self) -> ClientAPI:
        """The Chroma server of ``store.chroma_url`` if set (shared with other processes), else
        embedded Chroma in the data directory."""
        cfg = self.settings.store
        if cfg.chroma_url:
            from babelrag.stores.chroma_server import open_chroma_server

            token = cfg.chroma_token.get_secret_value() if cfg.chroma_token else None
            return open_chroma_server(cfg.chroma_url, token=token, token_header=cfg.chroma_token_header)
        from babelrag.stores.knowledge_store import open_chroma_client

        return open_chroma_client(self.settings.chroma_dir)

    def store(self, *, create: bool = False) -> KnowledgeStore:
        """The knowledge base with its embedder, for search and ingestion."""
        from babelrag.stores.knowledge_store import KnowledgeStore

        return KnowledgeStore(
            client=self.chroma, name=self.settings.kb, embedder=self.embedder, create=create
        )

    def reembed(self, embedder: str, *, backend: str | None = None) -> ReembedReport:
        """Move this knowledge base to ``embedder`` (on ``backend``, default the configured one)."""
        from babelrag.stores.reembed import reembed

        models = self.settings.models
        models = models.model_copy(
            update={"embedder": embedder, "embedding_backend": backend or models.embedding_backend}
        )
        target = self.derive(self.settings.model_copy(update={"models": models}))
        return reembed(
            client=self.chroma,
            kb=self.settings.kb,
            embedder=target.embedder,
            chunker=target.chunker(),
            batch_size=self.settings.models.embedding_batch_size,
            progress=self.progress,
            sections=self.settings.ingest.section_entries,
        )

    def catalog(self) -> Catalog:
        """Knowledge-base administration (list, info, drop, the store for ``remove``): no model loaded.

        A data directory without a store yet is listed as empty rather than created.
        """
        from babelrag.stores.catalog import Catalog

        exists = (
            "chroma" in self.__dict__
            or self.settings.store.chroma_url is not None
            or self.settings.chroma_dir.exists()
        )
        return Catalog(self.chroma if exists else None)

    def chunker(self) -> Chunker:
        from babelrag.stores.chunking import Chunker

        cfg = self.settings.ingest
        return Chunker(
            self.embedder.count_tokens,
            max_tokens=min(cfg.chunk_tokens, self.embedder.max_tokens),
            overlap_tokens=cfg.chunk_overlap,
        )

    def ingestor(self, dumps: DumpOptions | None = None) -> Ingestor:
        """The ingestor of this knowledge base; ``dumps`` says how Wikidata/DBpedia dumps are read."""
        from babelrag.stores.graph_dumps import DumpOptions
        from babelrag.stores.ingest import Ingestor
        from babelrag.stores.langdetect import detect_language

        translate_to = tuple(self.settings.ingest.translate_to)
        return Ingestor(
            store=self.store(create=True),
            chunker=self.chunker(),
            detect_language=detect_language,
            batch_size=self.settings.models.embedding_batch_size,
            context=self.settings.ingest.chunk_context,
            sections=self.settings.ingest.section_entries,
            dumps=dumps or DumpOptions(work_dir=self.settings.home / "tmp"),
            translator=self.translator if translate_to else None,
            translate_to=translate_to,
            max_file_bytes=int(self.settings.ingest.max_file_mb * 1_000_000),
        )

    # -- generation (issue: cross-lingual RAG) ------------------------------------------------
    @cached_property
    def llm(self) -> LocalChatModel:
        """The generator, on the engine ``generation.engine`` chooses for the configured model."""
        spec = self.settings.models.generator
        location = self.resolve(spec)
        engine = choose_engine(self.settings.generation.engine, location)
        if engine == "llama.cpp" and self.settings.generation.strategy == "beam":
            raise ConfigError(
                "beam search is not available with the llama.cpp engine",
                hint="use generation.strategy = greedy or sample (--strategy), or a transformers model",
            )
        with self.progress.task(f"loading generator {spec} ({engine})"):
            if engine == "llama.cpp":
                return self._llama_chat(location, self.settings.generation.context_tokens)
            from babelrag.chains.generator import TransformersChatModel

            quiet_hf_logging()
            model, tokenizer = load_causal_lm(location, self.settings)
            return TransformersChatModel(
                model=model,
                tokenizer=tokenizer,
                model_id=spec,
                decoding=self.decoding(),
                context_tokens=self.settings.generation.context_tokens,
            )

    @cached_property
    def translation_llm(self) -> LocalChatModel:
        """The generator for query translation: with llama.cpp a context of its own on the same
        weights, so the translation prompt's fixed instructions and examples stay in its KV cache
        while answers use the main context."""
        from babelrag.chains.llama_cpp import LlamaCppChatModel

        main = self.llm
        if not isinstance(main, LlamaCppChatModel):
            return main
        return self._llama_chat(main.llama.model_path, _TRANSLATION_CONTEXT)

    def _llama_chat(self, location: str, context_tokens: int) -> LocalChatModel:
        from babelrag.chains.llama_cpp import LlamaCppChatModel

        path = gguf_file(location)
        assert path is not None
        llama = load_llama(path, context_tokens=context_tokens, threads=self.settings.generation.threads)
        return LlamaCppChatModel(
            llama=llama,
            model_id=self.settings.models.generator,
            decoding=self.decoding(),
            context_tokens=context_tokens,
        )

    def decoding(self, **overrides: Any) -> Decoding:
        from babelrag.chains.generator import Decoding

        g = self.settings.generation
        base = Decoding(
            strategy=g.strategy,
            max_new_tokens=g.max_new_tokens,
            num_beams=g.num_beams,
            temperature=g.temperature,
            top_k=g.top_k,
            top_p=g.top_p,
            seed=g.seed,
            repetition_penalty=g.repetition_penalty,
            stop=tuple(g.stop),
        )
        return base.with_overrides(**overrides)

    def prompt(self, name: str, variables: tuple[str, ...]) -> ChatPromptTemplate:
        from babelrag.chains.prompting import load_prompt

        return load_prompt(name, variables=variables, user_dir=self.settings.prompts_dir)

    def messages(self) -> dict[str, dict[str, str]]:
        from babelrag.chains.prompting import load_messages

        return load_messages(self.settings.prompts_dir)

    @cached_property
    def translator(self) -> Translator:
        """Each language pair goes to its engine (``translation.engine`` and ``.pairs``); an engine
        loads the first time a pair needs it, and all of them share one cache."""
        from babelrag.agents.modelpack.apertium import installed_apertium, load_apertium
        from babelrag.chains.translate import (
            TRANSLATE_VARIABLES,
            CachedTranslator,
            LLMTranslator,
            RoutingTranslator,
            Seq2SeqTranslator,
            TranslationCache,
        )

        cfg = self.settings.translation
        cache = TranslationCache(self.settings.cache_dir / "translations.sqlite" if cfg.cache else ":memory:")

        def model() -> Translator:
            hf_model, tokenizer = load_seq2seq(self.resolve(str(cfg.model)), self.settings.models.device)
            return CachedTranslator(
                Seq2SeqTranslator(
                    model=hf_model,
                    tokenizer=tokenizer,
                    model_id=str(cfg.model),
                    languages=cfg.model_languages,
                    pair=translation_pair(cfg.model_pair),
                ),
                cache,
            )

        def llm() -> Translator:
            decoding = self.decoding(strategy="greedy", max_new_tokens=96)
            return CachedTranslator(
                LLMTranslator(
                    llm=self.translation_llm.bind(decoding=decoding),
                    prompt=self.prompt("translate_query", TRANSLATE_VARIABLES),
                    model_id=self.settings.models.generator,
                ),
                cache,
            )

        def apertium() -> Translator:
            return CachedTranslator(load_apertium(self.settings.cache_dir), cache)

        has_apertium = installed_apertium(self.settings.cache_dir) is not None
        routes, default = cfg.routing(apertium_installed=has_apertium)
        engines = {"llm": llm, "apertium": apertium, **({"model": model} if cfg.model else {})}
        return RoutingTranslator(engines, default=default, routes=routes)

    def lexical_index(self) -> BM25Index:
        from babelrag.stores.lexical import BM25Index

        store = self.store()
        # the revision changes with every write by any process (a shared Chroma server included)
        key = (store.name, store.revision())
        if self._lexical is None or self._lexical[0] != key:
            with self.progress.task("building the lexical index"):
                self._lexical = (key, BM25Index.from_store(store))
        return self._lexical[1]

    _lexical: tuple[tuple[str, str], BM25Index] | None = None

    def cross_lingual_retriever(
        self,
        *,
        k: int | None = None,
        translate: bool | None = None,
        lexical: bool | None = None,
        lang: str | None = None,
        where: dict[str, Any] | None = None,
        fetch_k: int | None = None,
        translation_weight: float | None = None,
        merge: str | None = None,
        target_languages: tuple[str, ...] | None = None,
        max_targets: int | None = None,
        group_documents: bool | None = None,
        section_weight: float | None = None,
    ) -> CrossLingualRetriever:
        """The one retriever of every command; each mode and number defaults to the settings."""
        from babelrag.chains.retrieval import CrossLingualRetriever
        from babelrag.stores.langdetect import detect_language

        r, t = self.settings.retrieval, self.settings.translation
        use_translation = self.translates_queries if translate is None else translate
        use_lexical = r.lexical if lexical is None else lexical
        targets = tuple(t.targets) if target_languages is None else target_languages
        most = t.max_targets if max_targets is None else max_targets
        return CrossLingualRetriever(
            store=self.store(),
            detect_language=detect_language,
            translator=self.translator if use_translation and most else None,
            lexical=self.lexical_index if use_lexical else None,
            use_translation=use_translation,
            use_lexical=use_lexical,
            k=k or r.k,
            fetch_k=max(fetch_k or r.fetch_k, k or r.k),
            rrf_k=r.rrf_k,
            merge=merge or r.merge,
            translation_weight=r.translation_weight if translation_weight is None else translation_weight,
            target_languages=targets,
            max_targets=most,
            lang=lang,
            where=where,
            group_documents=r.group_documents if group_documents is None else group_documents,
            use_headings=r.headings,
            heading_margin=r.heading_margin,
            section_weight=r.section_weight if section_weight is None else section_weight,
        )

    @property
    def translates_queries(self) -> bool:
        """``retrieval.translate``, with ``auto`` resolved for the configured embedder."""
        from babelrag.agents.config import NO_TRANSLATION_EMBEDDERS

        setting = self.settings.retrieval.translate
        if setting == "auto":
            return self.settings.models.embedder not in NO_TRANSLATION_EMBEDDERS
        return bool(setting)

    def grounder(self) -> Grounder:
        """Attribute-or-abstain against this knowledge base: the chains get it, not the store."""
        from babelrag.chains.grounding import Grounder

        store = self.store()
        return Grounder(
            embed_sentences=self.embedder.embed_queries,
            passage_vectors=store.vectors,
            min_similarity=self.settings.answer.min_support,
        )

    def answer_chain(self, retriever: CrossLingualRetriever | None = None) -> AnswerChain:
        from babelrag.chains.answer import ANSWER_VARIABLES, REWRITE_VARIABLES, AnswerChain
        from babelrag.stores.langdetect import detect_language

        retriever = retriever or self.cross_lingual_retriever()
        return AnswerChain(
            retriever=retriever,
            llm=self.llm,
            grounder=self.grounder(),
            answer_prompt=self.prompt("answer", ANSWER_VARIABLES),
            rewrite_prompt=self.prompt("rewrite_in_language", REWRITE_VARIABLES),
            messages=self.messages(),
            detect_language=detect_language,
            context_tokens=self.settings.generation.context_tokens,
            max_new_tokens=self.settings.generation.max_new_tokens,
            rewrite_wrong_language=self.settings.answer.rewrite_wrong_language,
            number_passages=self.settings.answer.number_passages,
            neighbours=retriever.store.neighbours,
            passage_tokens=self.settings.answer.passage_tokens,
            originals=retriever.store.hits,
        )

    def expand_chain(self) -> ExpandChain:
        from babelrag.chains.expand import EXPAND_VARIABLES, ExpandChain
        from babelrag.stores.langdetect import detect_language

        return ExpandChain(
            retriever=self.cross_lingual_retriever(),
            llm=self.llm,
            grounder=self.grounder(),
            prompt=self.prompt("expand_draft", EXPAND_VARIABLES),
            detect_language=detect_language,
            context_tokens=self.settings.generation.context_tokens,
        )

    def condense_chain(self) -> CondenseChain:
        from babelrag.chains.condense import CONDENSE_VARIABLES, CondenseChain
        from babelrag.stores.langdetect import detect_language

        return CondenseChain(
            llm=self.llm,
            prompt=self.prompt("condense_question", CONDENSE_VARIABLES),
            detect_language=detect_language,
            history_tokens=self.settings.chat.history_tokens,
        )

    # -- agents (writing assistant, dialogue) -------------------------------------------------
    def writing_assistant(self) -> WritingAssistant:
        from babelrag.agents.writer import WritingAssistant
        from babelrag.stores.langdetect import detect_language

        return WritingAssistant(
            expand_chain=self.expand_chain(), detect_language=detect_language, messages=self.messages()
        )

    def dialogue(self) -> Dialogue:
        from babelrag.agents.dialogue import Dialogue
        from babelrag.stores.langdetect import detect_language

        return Dialogue(
            answer_chain=self.answer_chain(),
            condense_chain=self.condense_chain(),
            detect_language=detect_language,
        )

    def writer_lock(self, *, wait: bool = True) -> AbstractContextManager[None]:
        """The lock every writer of this knowledge base holds (see ``stores/locking.py``)."""
        from babelrag.stores.locking import LOCKS_FOLDER, writer_lock

        return writer_lock(
            self.settings.home / LOCKS_FOLDER, self.settings.kb, wait=wait, notify=self.progress.log
        )

    def session_store(self) -> SessionStore:
        from babelrag.stores.sessions import SessionStore

        return SessionStore(self.settings.home / "sessions")
