"""Citation markers in generated answers: find them, drop invalid ones, list the sources."""

from __future__ import annotations

import re

from babelrag.stores.chunking import split_sentences

_GROUP = re.compile(r"[\[【]\s*(\d+(?:\s*[,，、;；]\s*\d+)*)\s*[\]】]")
_NO_ANSWER = re.compile(r"\bNO[_ ]ANSWER\b", re.IGNORECASE)


def parse_citations(answer: str, n_passages: int) -> tuple[str, list[int], list[int]]:
    """Return (answer with only valid [n] markers, cited numbers in order of first use, invalid ones).

    Markers like ``[1, 3]`` or ``【2】`` are normalised to ``[1][3]`` / ``[2]``; numbers that name no
    passage are removed from the text, so every marker a user sees maps to a real source.
    """
    cited: list[int] = []
    invalid: list[int] = []

    def replace(match: re.Match[str]) -> str:
        numbers = [int(x) for x in re.split(r"\s*[,，、;；]\s*", match.group(1))]
        kept = []
        for number in numbers:
            if 1 <= number <= n_passages:
                kept.append(number)
                if number not in cited:
                    cited.append(number)
            elif number not in invalid:
                invalid.append(number)
        return "".join(f"[{n}]" for n in kept)

    text = _GROUP.sub(replace, answer)
    text = re.sub(r"[ \t]+([.,;:!?。，；：！？])", r"\1", text)  # space left before punctuation
    return re.sub(r"[ \t]{2,}", " ", text).strip(), cited, invalid


def is_no_answer(answer: str) -> bool:
    """The model said the passages do not hold the answer (and gave nothing else of substance)."""
    if not _NO_ANSWER.search(answer):
        return False
    rest = _NO_ANSWER.sub("", answer)
    rest = _GROUP.sub("", rest)
    return len(re.sub(r"[\W_]+", "", rest)) < 25 or answer.strip().upper().startswith(
        ("NO_ANSWER", "NO ANSWER")
    )


def strip_citations(answer: str) -> str:
    return _GROUP.sub("", answer)


_CLOSED = re.compile(r"[.!?。！？…:：)\]】」』\"'”’]\s*(?:\[\d+\])*\s*$")


def drop_cut_off(text: str, *, hit_limit: bool) -> str:
    """Without a generation that stopped at its token limit's last, unfinished sentence.

    A model cut off by ``max_new_tokens`` ends mid-sentence or mid-word; a reader should never see
    that fragment. A reply that ended by itself is left as it is (a list item may lack a full stop).
    """
    if not hit_limit or _CLOSED.search(text.strip()):
        return text
    sentences = split_sentences(text)
    return "".join(sentences[:-1]).rstrip() if len(sentences) > 1 else ""
