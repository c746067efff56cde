"""The int8 ONNX embedder built from the real packaged e5: the same vectors as fp32, within tolerance."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import _pack_path

pytestmark = pytest.mark.integration

QUERIES = [
    "泡绿茶时水应该烧到多少度？",
    "Wie hoch sind die Türme des Kölner Doms?",
    "How do I undo my last git commit?",
    "¿Cómo se instala un paquete con apt?",
]
PASSAGES = [
    "Green tea is brewed with water at 70-80 °C for two to three minutes; boiling water makes it bitter.",
    "Der Kölner Dom wurde 1880 vollendet; seine beiden Türme sind 157 Meter hoch.",
    "git reset --soft HEAD~1 undoes the last commit and keeps its changes staged.",
    "绿茶用75到80度的水冲泡两三分钟即可。" * 3,
    "apt-get install installs a package and the packages it depends on. " * 40,  # cut at 512 tokens
]


@pytest.fixture(scope="module")
def int8_embeddings(tmp_path_factory, e5_embeddings):
    """Built once, into a fresh cache folder, through the path the runtime takes."""
    from babelrag.agents.hf_models import load_sentence_transformer
    from babelrag.stores.embeddings import OnnxSentenceEncoder, SentenceTransformerEmbeddings

    path = _pack_path("babelrag/multilingual-e5-small")
    cache = tmp_path_factory.mktemp("onnx-cache")
    model = load_sentence_transformer(str(path), "cpu", backend="onnx-int8", cache_dir=cache)
    assert isinstance(model, OnnxSentenceEncoder)
    return SentenceTransformerEmbeddings(model, model_id=e5_embeddings.model_id, batch_size=4)


def test_int8_vectors_match_fp32_for_e5_queries_and_passages(int8_embeddings, e5_embeddings) -> None:
    assert int8_embeddings.dimension == e5_embeddings.dimension == 384
    assert (int8_embeddings.query_prompt, int8_embeddings.document_prompt) == ("query: ", "passage: ")
    assert int8_embeddings.max_tokens == e5_embeddings.max_tokens
    for method, texts in (("embed_queries", QUERIES), ("embed_documents", PASSAGES)):
        int8 = np.asarray(getattr(int8_embeddings, method)(texts))
        fp32 = np.asarray(getattr(e5_embeddings, method)(texts))
        cosine = (int8 * fp32).sum(axis=1)
        assert cosine.min() >= 0.98, f"{method}: cosine to fp32 {np.round(cosine, 4).tolist()}"


def test_int8_ranks_the_answering_passage_first_as_fp32_does(int8_embeddings, e5_embeddings) -> None:
    answers = {0: {0, 3}, 1: {1}, 2: {2}}  # passage 3 answers the tea question in Chinese
    tops = {}
    for name, embeddings in (("int8", int8_embeddings), ("fp32", e5_embeddings)):
        passages = np.asarray(embeddings.embed_documents(PASSAGES))
        queries = np.asarray(embeddings.embed_queries([QUERIES[i] for i in answers]))
        tops[name] = (queries @ passages.T).argmax(axis=1).tolist()
    assert tops["int8"] == tops["fp32"]
    assert all(top in answers[i] for i, top in enumerate(tops["int8"])), tops


def test_alone_a_texts_int8_vector_is_the_same_whatever_it_is_embedded_with(int8_embeddings) -> None:
    """Activations are quantized with one scale per run: batched, a passage moves with its
    batch-mates; run alone (``models.embedding_batch_size = 1``, as the bench measures it), it does not."""
    from babelrag.stores.embeddings import SentenceTransformerEmbeddings

    batched = np.asarray(int8_embeddings.embed_documents(PASSAGES))
    one_by_one = SentenceTransformerEmbeddings(int8_embeddings.model, model_id="int8", batch_size=1)
    alone = np.asarray([one_by_one.embed_documents([text])[0] for text in PASSAGES])
    together = np.asarray(one_by_one.embed_documents(PASSAGES))
    np.testing.assert_array_equal(alone, together)
    assert not np.array_equal(batched, together), "batched, the vectors depend on the batch"
