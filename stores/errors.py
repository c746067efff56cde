"""The one exception hierarchy of babelrag.

Every error a user can cause or fix is a :class:`BabelragError`: its message says what
was wrong, its ``hint`` what to do. The CLI prints both and exits non-zero; anything
else that escapes is a bug.
"""

from __future__ import annotations


class BabelragError(Exception):
    """Base of all user-facing errors."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class ConfigError(BabelragError):
    """A setting, config file or command-line value is invalid."""


class ModelError(BabelragError):
    """A model cannot be found, built or loaded."""


class ModelNotInstalledError(ModelError):
    """A packaged model was asked for but the model pack is not installed."""


class ModelPackError(ModelError):
    """Building the offline model pack failed (download, hash, conversion, verification)."""


class StoreError(BabelragError):
    """The knowledge store cannot be opened or used as asked."""


class EmbedderMismatchError(StoreError):
    """A collection was built with another embedding model than the one configured."""


class UnreadableFileError(BabelragError):
    """A file cannot be ingested (binary, empty, broken, wrong encoding, unsupported)."""

    def __init__(self, path: object, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class TemplateError(BabelragError):
    """A prompt template is missing, malformed or rendered without a variable it needs."""


class GenerationError(BabelragError):
    """The generator failed or was given impossible settings."""
