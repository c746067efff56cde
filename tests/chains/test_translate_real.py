"""The dedicated-translation-model code path, on a tiny MarianMT model the test builds itself.

(transformers 5 removed ``pipeline("translation")``; babelrag runs the seq2seq model directly.)

No translation weights exist offline, so the model is random: the test checks the plumbing
(pipeline call, language handling, cleaning, caching), not translation quality.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def tiny_marian(tmp_path_factory) -> Path:
    import io

    import sentencepiece as spm
    import torch
    from transformers import MarianConfig, MarianMTModel, MarianTokenizer

    folder = tmp_path_factory.mktemp("tiny-marian")
    corpus = [
        "wie geht es dir heute",
        "das ist ein kleiner test",
        "how are you today",
        "this is a small test",
    ] * 20
    for name in ("source.spm", "target.spm"):
        buf = io.BytesIO()
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(corpus),
            model_writer=buf,
            vocab_size=40,
            hard_vocab_limit=False,
            model_type="unigram",
            minloglevel=2,
        )
        (folder / name).write_bytes(buf.getvalue())
    sp = spm.SentencePieceProcessor(model_proto=(folder / "source.spm").read_bytes())
    vocab = {"</s>": 0, "<unk>": 1, "<pad>": 2}
    for i in range(sp.get_piece_size()):
        vocab.setdefault(sp.id_to_piece(i), len(vocab))
    import json

    (folder / "vocab.json").write_text(json.dumps(vocab))
    tokenizer = MarianTokenizer(
        source_spm=str(folder / "source.spm"),
        target_spm=str(folder / "target.spm"),
        vocab=str(folder / "vocab.json"),
        source_lang="de",
        target_lang="en",
    )
    torch.manual_seed(0)
    config = MarianConfig(
        vocab_size=len(vocab),
        d_model=16,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        max_position_embeddings=64,
        pad_token_id=2,
        eos_token_id=0,
        decoder_start_token_id=2,
        forced_eos_token_id=0,
    )
    MarianMTModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_seq2seq_translator_runs_and_caches(tiny_marian: Path, tmp_path: Path) -> None:
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    from babelrag.chains.translate import CachedTranslator, Seq2SeqTranslator, TranslationCache

    inner = Seq2SeqTranslator(
        model=AutoModelForSeq2SeqLM.from_pretrained(tiny_marian),
        tokenizer=AutoTokenizer.from_pretrained(tiny_marian),
        model_id="tiny-marian",
        languages="fixed",
        pair=("de", "en"),
        max_new_tokens=8,
    )
    translator = CachedTranslator(inner, TranslationCache(tmp_path / "t.sqlite"))
    first = translator.translate("wie geht es dir", "de", "en")
    assert isinstance(first, str) and "\n" not in first
    assert translator.translate("wie geht es dir", "de", "en") == first
    assert translator.calls == 1, "the second request is served from the cache"
    assert not inner.supports("zh", "en") and inner.translate("你好", "zh", "en") == ""


def test_runtime_builds_the_configured_translation_model(tiny_marian: Path, tmp_path: Path) -> None:
    from babelrag.agents.config import load_settings
    from babelrag.agents.runtime import Runtime
    from babelrag.chains.translate import Seq2SeqTranslator

    settings = load_settings(
        home=tmp_path,
        cache_dir=tmp_path / "cache",
        translation={"model": str(tiny_marian), "model_pair": "de-en", "cache": False},
    )
    translator = Runtime(settings).translator
    engine = translator.engine(translator.engine_for("de", "en"))
    assert isinstance(engine.inner, Seq2SeqTranslator) and engine.inner.pair == ("de", "en")
    assert isinstance(translator.translate("das ist ein test", "de", "en"), str)
