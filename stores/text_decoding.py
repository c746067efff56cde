"""Bytes to clean text: strict decoding, binary detection and one normal form.

Mis-decoded text poisons retrieval without anyone noticing, so nothing here guesses a legacy
code page: UTF-8 (with or without BOM), UTF-16/32 with a BOM and a charset the file itself
declares are accepted; anything else is an :class:`UnreadableFileError` that says how to fix it.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from pathlib import Path

from babelrag.stores.errors import UnreadableFileError

# UTF-32 first: its little-endian BOM starts with the UTF-16 one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF8, "utf-8-sig", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16", "UTF-16"),
)
_SNIFF_BYTES = 8192
# C0 controls other than tab, line breaks and ESC (which coloured logs use), plus DEL.
_CONTROL_BYTES = bytes([*range(0x01, 0x09), *range(0x0E, 0x1B), *range(0x1C, 0x20), 0x7F])
_MAX_CONTROL_RATIO = 0.05
_UTF8_FIX = "convert it to UTF-8 (e.g. iconv -f CP1252 -t UTF-8 FILE > FILE.txt)"

_LINE_BREAKS = re.compile(r"\r\n?|[\x0b\x0c\x85\u2028\u2029]")
_INVISIBLE = re.compile(r"[\x00-\x08\x0e-\x1f\x7f\ufeff]")
_BLANK_RUNS = re.compile(r"\n{3,}")


def looks_binary(data: bytes) -> bool:
    """NUL bytes or many control bytes near the start: no text file has either."""
    sample = data[:_SNIFF_BYTES]
    if not sample:
        return False
    if b"\x00" in sample:
        return True
    controls = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    return controls / len(sample) > _MAX_CONTROL_RATIO


def _looks_like_bomless_utf16(data: bytes) -> bool:
    """Latin-script UTF-16 has a NUL in every other byte; worth a better message than 'binary'."""
    sample = data[:_SNIFF_BYTES]
    if len(sample) < 4:
        return False
    return any(half.count(0) > 0.4 * len(half) for half in (sample[0::2], sample[1::2]))


def _error_position(exc: UnicodeDecodeError) -> str:
    return f"byte 0x{exc.object[exc.start]:02x} at offset {exc.start}"


def decode_text(data: bytes, path: Path, *, declared_charset: str | None = None) -> str:
    """Decode ``data`` or raise with a reason; ``declared_charset`` comes from the file itself.

    The declared charset is only tried when the bytes are not valid UTF-8, because pages often
    declare a legacy charset and are in fact served as UTF-8.
    """
    for bom, codec, label in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(codec)
            except UnicodeDecodeError as exc:
                raise UnreadableFileError(
                    path, f"not valid {label} although it starts with a {label} byte-order mark"
                ) from exc
    if looks_binary(data):
        if _looks_like_bomless_utf16(data):
            raise UnreadableFileError(path, f"looks like UTF-16 without a byte-order mark; {_UTF8_FIX}")
        raise UnreadableFileError(path, "binary file, not text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        utf8_error = exc
    if declared_charset:
        try:
            codec = codecs.lookup(declared_charset).name
        except LookupError:
            raise UnreadableFileError(
                path, f"declares an unknown charset {declared_charset!r} and is not valid UTF-8; {_UTF8_FIX}"
            ) from None
        if codec != "utf-8":
            try:
                return data.decode(codec)
            except UnicodeDecodeError as exc:
                raise UnreadableFileError(
                    path, f"not valid {declared_charset} as it declares ({_error_position(exc)}); {_UTF8_FIX}"
                ) from exc
    raise UnreadableFileError(path, f"not valid UTF-8 ({_error_position(utf8_error)}); {_UTF8_FIX}")


def is_text(data: bytes) -> bool:
    """Whether :func:`decode_text` would accept ``data`` without a declared charset."""
    try:
        decode_text(data, Path())
    except UnreadableFileError:
        return False
    return True


def normalise_text(text: str) -> str:
    """One form for every format: NFC, ``\\n`` line ends, no trailing spaces, at most one blank line.

    NFC matters for retrieval: the same 'ü' typed two ways must embed and match the same way.
    """
    text = unicodedata.normalize("NFC", text)
    text = _INVISIBLE.sub("", _LINE_BREAKS.sub("\n", text))
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return _BLANK_RUNS.sub("\n\n", text).strip()


def collapse_whitespace(text: str) -> str:
    """A title or a single-line field: NFC, one space between words."""
    return " ".join(unicodedata.normalize("NFC", text).split())
