"""Apertium, a rule-based translator, as a :class:`~babelrag.chains.translate.Translator`.

Spanish → English directly; French, Portuguese and Italian → English through Spanish (the
``fr-es`` and ``spa-eng`` pipes chained in one shell pipeline). Which pairs exist is read from
the install's ``modes`` folder, so a pair is translated only where Apertium really has it.

Several texts are one process call: one line per text, separated by a blank line. A single
newline is not a boundary for Apertium: its transfer rules reorder words across it ("la casa" +
"blanca" comes back as "The white" + "house"); a blank line is a paragraph break that no rule
crosses. If the paragraphs that come back do not match the texts sent, each text is sent alone.

Unknown words: Apertium marks them ``*word``; we run it with ``-u``, which leaves them unmarked
and as they were. A search query loses nothing by an untranslated product name, while a ``*`` we
stripped ourselves could not be told from a real one (``*.deb`` comes back ``*.**deb`` without
``-u``). The rarer ``#``/``@`` marks (generation and transfer gaps) are stripped from words
unless the word was written that way in the query (``#include``).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from babelrag.stores.errors import ModelError, ModelNotInstalledError

INSTALL_HINT = "run `babelrag models install apertium` (no root needed; about 10 MB of Debian packages)"
#: The ISO 639-3 codes Apertium names many pairs by (``spa-eng``); older pairs use ISO 639-1 (``fr-es``).
ISO3 = {
    "en": "eng", "es": "spa", "fr": "fra", "pt": "por", "it": "ita", "ca": "cat", "gl": "glg",
    "oc": "oci", "ro": "ron", "de": "deu", "nl": "nld", "eu": "eus", "an": "arg", "ast": "ast",
}  # fmt: skip
_MARK = re.compile(r"(?<![^\s(\[¿¡\"'«])[#@](?=\w)")
_PARAGRAPHS = re.compile(r"\n[ \t]*\n")


@dataclass(frozen=True)
class ApertiumInstall:
    """Where an Apertium lives: its language data, and for an unpacked install its programs and libraries."""

    data_dir: Path  # holds modes/*.mode
    bin_dir: Path | None = None  # None: the ``apertium`` on PATH
    lib_dirs: tuple[Path, ...] = ()
    version: str = (
        "system"  # part of the translator id, so another install's cached translations are not reused
    )

    @classmethod
    def unpacked(cls, root: Path, *, version: str) -> ApertiumInstall:
        """Debian packages unpacked with ``dpkg -x`` into ``root`` (``usr/bin``, ``usr/lib/<triplet>``)."""
        libs = sorted(p for p in (root / "usr" / "lib").glob("*-linux-gnu*") if p.is_dir())
        return cls(root / "usr/share/apertium", root / "usr/bin", (*libs, root / "usr/lib"), version)

    @classmethod
    def system(cls) -> ApertiumInstall | None:
        """The Apertium installed system-wide (``apt install apertium-eng-spa``), if there is one."""
        if shutil.which("apertium") is None:
            return None
        data = Path(os.environ.get("APERTIUM_DATADIR", "/usr/share/apertium"))
        return cls(data) if (data / "modes").is_dir() else None

    def executable(self) -> str | None:
        if self.bin_dir is None:
            return shutil.which("apertium")
        path = self.bin_dir / "apertium"
        return str(path) if path.is_file() else None

    def environ(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """The subprocess environment: our programs first on PATH, our libraries on LD_LIBRARY_PATH."""
        env = dict(os.environ if base is None else base)
        env["LC_ALL"] = "C.UTF-8"  # Apertium reads and writes UTF-8 only under a UTF-8 locale
        if self.bin_dir is not None:
            env["PATH"] = os.pathsep.join([str(self.bin_dir), *filter(None, [env.get("PATH")])])
        if self.lib_dirs:
            dirs = [str(d) for d in self.lib_dirs if d.is_dir()]
            env["LD_LIBRARY_PATH"] = os.pathsep.join([*dirs, *filter(None, [env.get("LD_LIBRARY_PATH")])])
        return env

    def modes(self) -> frozenset[str]:
        return frozenset(p.stem for p in (self.data_dir / "modes").glob("*.mode"))


@dataclass
class ApertiumTranslator:
    """Translates through Apertium's pipes, chaining two through ``pivot`` where no direct pair exists."""

    install: ApertiumInstall
    pivot: str = "es"
    timeout_s: float = 120.0
    id: str = field(init=False)
    _modes: frozenset[str] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.id = f"apertium:{self.install.version}"

    def route(self, source: str, target: str) -> list[str] | None:
        """The Apertium modes that translate ``source`` into ``target``, in order; None if there are none."""
        if source == target:
            return None
        direct = self._mode(source, target)
        if direct:
            return [direct]
        if self.pivot in (source, target):
            return None
        first, second = self._mode(source, self.pivot), self._mode(self.pivot, target)
        return [first, second] if first and second else None

    def supports(self, source: str, target: str) -> bool:
        return self.route(source, target) is not None

    def translate(self, text: str, source: str, target: str) -> str:
        return self.translate_batch([text], source, target)[0]

    def translate_batch(self, texts: Sequence[str], source: str, target: str) -> list[str]:
        """One translation per text ("" for a pair Apertium lacks), in one process call."""
        self._require_install()
        route = self.route(source, target)
        lines = [" ".join(t.split()) for t in texts]
        todo = [i for i, line in enumerate(lines) if line]
        out = [""] * len(lines)
        if route is None or not todo:
            return out
        parts = _PARAGRAPHS.split(self._run(route, "\n\n".join(lines[i] for i in todo) + "\n").strip())
        if len(parts) != len(todo):  # a paragraph lost or split: never pair a text with another's translation
            parts = [self._run(route, lines[i] + "\n") for i in todo]
        for i, part in zip(todo, parts, strict=True):
            out[i] = strip_marks(" ".join(part.split()), lines[i])
        return out

    def _mode(self, source: str, target: str) -> str | None:
        if self._modes is None:
            self._modes = self.install.modes()
        for src in dict.fromkeys([source, ISO3.get(source, source)]):
            for tgt in dict.fromkeys([target, ISO3.get(target, target)]):
                if f"{src}-{tgt}" in self._modes:
                    return f"{src}-{tgt}"
        return None

    def _require_install(self) -> str:
        exe = self.install.executable()
        if exe is None or not (self.install.data_dir / "modes").is_dir():
            raise ModelNotInstalledError(
                f"Apertium is not installed (looked for {self.install.bin_dir or 'apertium on PATH'} "
                f"and {self.install.data_dir / 'modes'})",
                hint=INSTALL_HINT,
            )
        return exe

    def _run(self, route: list[str], payload: str) -> str:
        exe = self._require_install()
        # "$0" is apertium, "$1" the data folder, "$2"… the modes: nothing from the data enters the script
        script = "set -o pipefail; " + " | ".join(
            f'"$0" -u -f txt -d "$1" "${{{i + 2}}}"' for i in range(len(route))
        )
        argv = ["bash", "-c", script, exe, str(self.install.data_dir), *route]
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=self.install.environ(),
            start_new_session=True,  # so a timeout ends the whole pipeline, not only bash
        )
        try:
            stdout, stderr = proc.communicate(payload.encode(), timeout=self.timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise ModelError(
                f"Apertium ({' | '.join(route)}) took more than {self.timeout_s:.0f} s"
            ) from None
        if proc.returncode != 0:
            detail = stderr.decode(errors="replace").strip().splitlines()[-3:]
            raise ModelError(
                f"Apertium ({' | '.join(route)}) failed with exit status {proc.returncode}: "
                + (" / ".join(detail) or "no message"),
                hint=f"reinstall it: babelrag models install apertium --force ({INSTALL_HINT})",
            )
        return stdout.decode(errors="replace")


def strip_marks(translation: str, original: str) -> str:
    """``translation`` without Apertium's ``#``/``@`` marks, except on words the original had them on."""
    kept = set(original.split())
    return _MARK.sub(lambda m: m.group(0) if _token_at(translation, m.start()) in kept else "", translation)


def _token_at(text: str, start: int) -> str:
    end = start
    while end < len(text) and not text[end].isspace():
        end += 1
    return text[start:end]
