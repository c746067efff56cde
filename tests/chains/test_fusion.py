"""Reciprocal rank fusion on small lists whose sums are worked out by hand."""

from __future__ import annotations

import pytest

from babelrag.chains.fusion import reciprocal_rank_fusion
from babelrag.stores.knowledge_store import SearchHit

pytestmark = pytest.mark.unit


def hit(cid: str, score: float = 0.5, **meta: str) -> SearchHit:
    return SearchHit(id=cid, source=f"{cid}.md", title=cid, lang="en", score=score, text=cid, metadata=meta)


def ids(fused) -> list[str]:
    return [f.hit.id for f in fused]


class TestReciprocalRankFusion:
    def test_sums_with_k_60(self) -> None:
        fused = reciprocal_rank_fusion(
            {"original": [hit("a"), hit("b"), hit("c")], "translation:de": [hit("b"), hit("d")]}
        )
        assert ids(fused) == ["b", "a", "d", "c"]
        rrf = {f.hit.id: f.rrf for f in fused}
        assert rrf["b"] == pytest.approx(0.032522474), "1/62 + 1/61 = 0.016129032 + 0.016393443"
        assert rrf["a"] == pytest.approx(0.016393443), "1/61"
        assert rrf["d"] == pytest.approx(0.016129032), "1/62"
        assert rrf["c"] == pytest.approx(0.015873016), "1/63"
        assert fused[0].ranks == {"original": 2, "translation:de": 1}
        assert fused[1].ranks == {"original": 1}

    def test_small_k_makes_the_top_ranks_count_more(self) -> None:
        ranked = {
            "x": [hit("a"), hit("b"), hit("c"), hit("d")],
            "y": [hit("d"), hit("c")],
            "z": [hit("c")],
        }
        fused = reciprocal_rank_fusion(ranked, k=0)
        rrf = {f.hit.id: f.rrf for f in fused}
        # c: 1/3 + 1/2 + 1/1 = 1.8333; d: 1/4 + 1/1 = 1.25; a: 1/1 = 1.0; b: 1/2 = 0.5
        assert rrf == pytest.approx({"c": 1.8333333, "d": 1.25, "a": 1.0, "b": 0.5})
        assert ids(fused) == ["c", "d", "a", "b"]

        fused = reciprocal_rank_fusion(ranked, k=1)
        rrf = {f.hit.id: f.rrf for f in fused}
        # c: 1/4 + 1/3 + 1/2 = 1.0833; d: 1/5 + 1/2 = 0.7; a: 1/2 = 0.5; b: 1/3 = 0.3333
        assert rrf == pytest.approx({"c": 1.0833333, "d": 0.7, "a": 0.5, "b": 0.3333333})

    def test_a_chunk_counts_once_per_list(self) -> None:
        fused = reciprocal_rank_fusion({"original": [hit("a"), hit("a"), hit("b")]}, k=0)
        by_id = {f.hit.id: f for f in fused}
        assert by_id["a"].rrf == pytest.approx(1.0), "1/1, the repeat at rank 2 adds nothing"
        assert by_id["a"].ranks == {"original": 1}
        assert len(fused) == 2

    def test_the_best_cosine_score_is_kept(self) -> None:
        low = hit("a", score=0.2, found="lexical")
        high = hit("a", score=0.9, found="dense")
        for order in ([low, high], [high, low]):
            fused = reciprocal_rank_fusion({"first": [order[0]], "second": [order[1]]})
            assert len(fused) == 1
            assert fused[0].hit.score == 0.9 and fused[0].hit.metadata == {"found": "dense"}

    def test_ties_are_broken_by_score_then_id(self) -> None:
        ranked = {
            "one": [hit("m", score=0.3)],
            "two": [hit("z", score=0.8)],
            "three": [hit("b", score=0.3)],
        }
        fused = reciprocal_rank_fusion(ranked)
        assert [f.rrf for f in fused] == [1 / 61] * 3, "all at rank 1 of one list"
        assert ids(fused) == ["z", "b", "m"]
        reordered = reciprocal_rank_fusion(dict(reversed(list(ranked.items()))))
        assert ids(reordered) == ids(fused), "the order of the lists does not matter"

    def test_empty_lists(self) -> None:
        assert reciprocal_rank_fusion({}) == []
        assert reciprocal_rank_fusion({"original": []}) == []

    def test_inputs_are_not_changed(self) -> None:
        a = hit("a", score=0.4)
        ranked = {"original": [a], "other": [hit("a", score=0.6)]}
        reciprocal_rank_fusion(ranked)
        assert ranked["original"] == [a] and a.score == 0.4

    def test_negative_k_is_an_error(self) -> None:
        with pytest.raises(ValueError, match="k must be >= 0, got -1"):
            reciprocal_rank_fusion({"original": [hit("a")]}, k=-1)


def test_weights_let_one_list_count_more() -> None:
    ranked = {"original": [hit("a"), hit("b")], "translation:en": [hit("b"), hit("a")]}
    # equal weights: a = 1/61 + 1/62 = b -> tie broken by id
    assert ids(reciprocal_rank_fusion(ranked, k=60)) == ["a", "b"]
    # translation weighted 2: b = 1/62 + 2/61 = 0.04892 > a = 1/61 + 2/62 = 0.04865
    fused = reciprocal_rank_fusion(ranked, k=60, weights={"translation:en": 2.0})
    assert ids(fused) == ["b", "a"]
    assert fused[0].rrf == pytest.approx(1 / 62 + 2 / 61)


def test_over_documents_a_document_counts_once_per_list_at_its_best_chunk() -> None:
    from dataclasses import replace

    from babelrag.chains.fusion import distinct, document_key

    a1, a2 = hit("a1", 0.9, doc="0"), hit("a2", 0.8, doc="0")
    a1, a2 = replace(a1, source="a.md"), replace(a2, source="a.md")
    b = hit("b", 0.7)
    dense, translated = [a1, a2, b], [a2, b, a1]
    by_chunk = reciprocal_rank_fusion({"d": dense, "t": translated}, k=0)
    assert ids(by_chunk) == ["a2", "a1", "b"]  # chunks: a1 1 + 1/3, a2 1/2 + 1, b 1/3 + 1/2
    by_doc = reciprocal_rank_fusion({"d": dense, "t": translated}, k=0, key=document_key)
    # documents: a = 1 + 1 (rank 1 in both lists), b = 1/2 + 1/2; a's hit is its best chunk
    assert ids(by_doc) == ["a1", "b"] and by_doc[0].rrf == pytest.approx(2.0)
    assert by_doc[1].ranks == {"d": 2, "t": 2}
    assert [h.id for h in distinct(dense)] == ["a1", "b"]
