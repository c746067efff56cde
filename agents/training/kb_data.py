"""Training data for adapting the retriever to a knowledge base, written by the generator.

For sampled passages the generator writes a search question in each asked language (InPars / GPL,
the ``kb_question`` prompt); questions that are empty, copy the passage or come out in another
language are kept in the file but marked as dropped, with the reason. Hard negatives come from the
store (a search with the knowledge base's embedder), without the passage itself, other passages of
its document and near-copies of it. The generator then scores every candidate by the
log-likelihood of the question given the candidate (REPLUG's LM-supervised retrieval; UPR), with
the same prompt, so each record carries the teacher's distribution over its candidates.

Documents are split once (seeded) into training and held-out ones; a held-out document's passages
give evaluation questions only, and never appear in training rows, as positives or as negatives.

Everything lands in one JSON Lines file, a record per (passage, language), appended as each passage
is done: a stopped run resumes after the last passage written, and a second run reuses the file.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from babelrag.stores.errors import BabelragError
from babelrag.stores.progress import NullProgress, Progress

QUESTION_VARIABLES = ("passage", "language")
_PASSAGE_CHARS = 1500  # what the prompt shows of a passage (about 350 generator tokens)
_LABEL = re.compile(r"^\s*(?:\d+[.)]\s*|[-*]\s*|(?:question|frage|问题|問題|pregunta)\s*[:：]\s*)+", re.I)
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
_QUESTION_MARK = re.compile(r"[?？؟;]")  # ; is the Greek question mark
_QUOTES = "\"'“”„«»「」『』`"


@dataclass(frozen=True)
class Passage:
    id: str
    text: str
    doc: str  # source and document index: the unit of the held-out split
    lang: str


@dataclass
class Record:
    """One question (or failed attempt) for one passage and language; a line of the data file."""

    passage_id: str
    doc: str
    split: str  # "train" or "eval"
    lang: str
    question: str
    kept: bool
    reason: str = ""
    negatives: list[str] = field(default_factory=list)
    lm_logprob: list[float] = field(default_factory=list)  # the positive first, then the negatives
    question_tokens: int = 0
    generator: str = ""


def read_passages(chunks: Iterable[tuple[str, str, dict[str, Any]]], *, min_chars: int = 80) -> list[Passage]:
    """Passages long enough to ask about, from ``KnowledgeStore.iter_chunks(texts=True)``."""
    out = []
    for cid, text, meta in chunks:
        if len(text.strip()) < min_chars:
            continue
        doc = f"{meta.get('source', '')}#{meta.get('doc', 0)}"
        out.append(Passage(id=cid, text=text, doc=doc, lang=str(meta.get("lang", "und"))))
    return out


def held_out_documents(docs: Iterable[str], fraction: float, seed: int) -> set[str]:
    """A seeded ``fraction`` of the documents (at least one, and one left to train on)."""
    unique = sorted(set(docs), key=lambda d: hashlib.sha256(f"{seed}:{d}".encode()).hexdigest())
    if fraction <= 0 or len(unique) < 2:
        return set()
    n = min(len(unique) - 1, max(1, round(fraction * len(unique))))
    return set(unique[:n])


def sample_passages(passages: Sequence[Passage], max_passages: int, seed: int) -> list[Passage]:
    """A seeded sample in a stable order, so that a larger budget extends a smaller one's."""
    ranked = sorted(passages, key=lambda p: hashlib.sha256(f"{seed}:{p.id}".encode()).hexdigest())
    return ranked[:max_passages]


def clean_question(text: str) -> str:
    """The question out of a reply: its first line, without labels, numbering or quotes."""
    line = next((ln for ln in text.strip().splitlines() if ln.strip()), "")
    line = _LABEL.sub("", line).strip().strip(_QUOTES).strip()
    return re.sub(r"\s+", " ", line)


def drop_reason(question: str, passage: str, lang: str, detect_language: Callable[[str], str]) -> str:
    """Why a generated question is not used ("" when it is)."""
    if not question:
        return "empty"
    cjk = len(_CJK.findall(question))
    words = len(_CJK.sub(" ", question).split()) + cjk / 2  # two CJK characters make about a word
    if words < 3:
        return "too short"
    if words > 30:
        return "too long"
    if not _QUESTION_MARK.search(question):
        return "not a question"
    if _copies(question, passage):
        return "copies the passage"
    found = detect_language(question)
    if found != lang:
        return f"wrong language ({found})"
    return ""


def _grams(text: str, n: int = 4) -> set[str]:
    norm = re.sub(r"\W+", " ", text.casefold()).strip()
    return {norm[i : i + n] for i in range(max(1, len(norm) - n + 1))}


def _copies(question: str, passage: str) -> bool:
    """Most of the question's character 4-grams are in the passage: a sentence of it, not a question."""
    grams = _grams(question)
    return len(grams & _grams(passage)) >= 0.9 * len(grams)


def near_duplicate(a: str, b: str, threshold: float = 0.8) -> bool:
    x, y = _grams(a), _grams(b)
    return len(x & y) >= threshold * min(len(x), len(y))


def pick_negatives(hits: Sequence[Any], positive: Passage, *, held_out: set[str], k: int) -> list[Any]:
    """The ``k`` highest-ranked hits that are not the positive, its document, a held-out document's
    passage or a near-copy of the positive (overlapping chunks, repeated boilerplate)."""
    out: list[Any] = []
    for hit in hits:
        doc = f"{hit.source}#{hit.metadata.get('doc', 0)}"
        if hit.id == positive.id or doc == positive.doc or doc in held_out:
            continue
        if near_duplicate(hit.text, positive.text):
            continue
        out.append(hit)
        if len(out) == k:
            break
    return out


class DataFile:
    """The records of one training run, as JSON Lines (appended, so a stopped run keeps its work)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> list[Record]:
        if not self.path.exists():
            return []
        lines = self.path.read_text(encoding="utf-8").splitlines()
        records = []
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                records.append(Record(**json.loads(line)))
            except (json.JSONDecodeError, TypeError) as exc:
                if number == len(lines):
                    break  # a line cut short when a run was stopped: that passage is done again
                raise BabelragError(
                    f"{self.path}: line {number} is not a training record ({exc})",
                    hint="delete the file to generate the data again",
                ) from None
        return records

    def check_settings(self, settings: dict[str, Any]) -> None:
        """Records are only reusable under the settings that decided them (the knowledge base and
        the held-out split): the first run writes them beside the data, later runs must match."""
        path = self.path.with_name("settings.json")
        if path.exists():
            saved = json.loads(path.read_text(encoding="utf-8"))
            changed = {k: (saved.get(k), v) for k, v in settings.items() if saved.get(k) != v}
            if changed:
                what = ", ".join(f"{k} {old!r} (now {new!r})" for k, (old, new) in changed.items())
                raise BabelragError(
                    f"the training data in {self.path.parent} was made with {what}",
                    hint="use the same settings to reuse it, or another --out",
                )
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")

    def append(self, records: Sequence[Record]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._drop_partial_line()
        with self.path.open("a", encoding="utf-8") as f:
            for record in records:
                f.write(json.dumps(asdict(record), ensure_ascii=False) + "\n")

    def _drop_partial_line(self) -> None:
        """Cut a last line without its newline (a run stopped while writing it) before appending."""
        if not self.path.exists():
            return
        raw = self.path.read_bytes()
        if raw and not raw.endswith(b"\n"):
            with self.path.open("r+b") as f:
                f.truncate(raw.rfind(b"\n") + 1)


@dataclass
class Teacher:
    """What the data needs of the generator: a question for a passage, and a candidate's score.

    ``write(passage_text, lang)`` returns the reply; ``score(passage_text, lang, question)`` the
    log-probability of each token of the question as the reply to the same prompt.
    """

    write: Callable[[str, str], str]
    score: Callable[[str, str, str], list[float]]
    model_id: str


def generator_teacher(llm: Any, prompt: Any, *, model_id: str, max_new_tokens: int = 48) -> Teacher:
    """A :class:`Teacher` on a :class:`LocalChatModel` and the ``kb_question`` template (greedy)."""
    from langchain_core.output_parsers import StrOutputParser

    from babelrag.chains.generator import Decoding
    from babelrag.chains.prompting import render
    from babelrag.stores.langdetect import language_name

    decoding = Decoding(strategy="greedy", max_new_tokens=max_new_tokens, stop=("\n",))
    chain = prompt | llm.bind(decoding=decoding) | StrOutputParser()

    def values(text: str, lang: str) -> dict[str, str]:
        return {"passage": text[:_PASSAGE_CHARS], "language": language_name(lang)}

    def write(text: str, lang: str) -> str:
        return chain.invoke(values(text, lang))

    def score(text: str, lang: str, question: str) -> list[float]:
        return llm.continuation_logprobs(render(prompt, **values(text, lang)), question)

    return Teacher(write=write, score=score, model_id=model_id)


@dataclass
class DataReport:
    passages: int
    generated: int  # new records this run
    reused: int  # records read from an earlier run
    seconds: float


def build_data(
    *,
    passages: Sequence[Passage],
    langs: Sequence[str],
    held_out: set[str],
    teacher: Teacher,
    search: Callable[[str, int], Sequence[Any]],
    detect_language: Callable[[str], str],
    data: DataFile,
    negatives: int = 3,
    progress: Progress | None = None,
) -> DataReport:
    """Write the records ``data`` lacks for ``passages`` × ``langs`` (see the module docstring)."""
    import time

    progress = progress or NullProgress()
    started = time.perf_counter()
    existing = data.read()
    done = {(r.passage_id, r.lang) for r in existing}
    todo = [p for p in passages if any((p.id, lang) not in done for lang in langs)]
    generated = 0
    with progress.task("writing and scoring questions", total=len(todo)) as task:
        for passage in todo:
            split = "eval" if passage.doc in held_out else "train"
            records = []
            for lang in langs:
                if (passage.id, lang) in done:
                    continue
                question = clean_question(teacher.write(passage.text, lang))
                reason = drop_reason(question, passage.text, lang, detect_language)
                records.append(
                    Record(passage.id, passage.doc, split, lang, question, not reason, reason,
                           generator=teacher.model_id)
                )  # fmt: skip
            kept = [r for r in records if r.kept and split == "train"]
            texts = {passage.id: passage.text}  # the positive first: its prompt is still cached
            for record in kept:
                chosen = pick_negatives(
                    search(record.question, 4 * negatives + 10), passage, held_out=held_out, k=negatives
                )
                record.negatives = [hit.id for hit in chosen]
                texts.update((hit.id, hit.text) for hit in chosen)
            _score(kept, teacher, texts, positive=passage.id)
            data.append(records)
            generated += len(records)
            task.advance(1)
    return DataReport(
        passages=len(passages),
        generated=generated,
        reused=len(existing),
        seconds=round(time.perf_counter() - started, 1),
    )


def _score(records: Sequence[Record], teacher: Teacher, texts: dict[str, str], *, positive: str) -> None:
    """LM scores of every record's candidates, one candidate passage at a time, so that the
    generator's cache holds that passage's prompt prefix while each question about it is scored."""
    scores: dict[tuple[int, str], float] = {}
    for cid, text in texts.items():
        for i, record in enumerate(records):
            if cid != positive and cid not in record.negatives:
                continue
            logprobs = teacher.score(text, record.lang, record.question)
            scores[(i, cid)] = round(sum(logprobs), 4)
            if cid == positive:
                record.question_tokens = len(logprobs)
    for i, record in enumerate(records):
        record.lm_logprob = [scores[(i, positive)]] + [scores[(i, c)] for c in record.negatives]
