"""Licences a user must accept before the pack builds a model, and the record of that acceptance.

Most packaged models are under open licences and build without asking. A model whose terms
restrict use (EmbeddingGemma, under the Gemma Terms of Use) is built only when the caller passes
an acceptance for it; the registry checks that before downloading anything and writes the
acceptance into the model's manifest. Asking the user is the CLI's job, not this module's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from babelrag.stores.errors import ModelPackError


@dataclass(frozen=True)
class Licence:
    name: str
    url: str
    summary: str

    def terms_text(self, model: str) -> str:
        """What a user reads before accepting: the summary and where the full terms are."""
        return f"{model} is distributed under the {self.name}.\n{self.summary}\nFull terms: {self.url}"


GEMMA_TERMS = Licence(
    name="Gemma Terms of Use",
    url="https://ai.google.dev/gemma/terms",
    summary=(
        "These are not an open-source licence. You may use, modify and share the model and what you "
        "build from it, but not for the uses the Gemma Prohibited Use Policy forbids "
        "(https://ai.google.dev/gemma/prohibited_use_policy); whoever you pass the model or a "
        "derivative to must receive the same use restrictions and a copy of the terms. "
        "Read the full terms before accepting them."
    ),
)


def acceptance_record(licence: Licence, how: str) -> dict[str, object]:
    """The manifest entry that says who accepted which terms, how and when."""
    return {
        "name": licence.name,
        "url": licence.url,
        "accepted": True,
        "accepted_via": how,
        "accepted_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def refused(model: str, command: str, licence: Licence) -> ModelPackError:
    """The error for a build whose licence was not accepted (nothing was downloaded)."""
    return ModelPackError(
        f"{model} was not built: its licence, the {licence.name} ({licence.url}), was not accepted; "
        "nothing was downloaded",
        hint=f"read the terms, then run `{command}` (or answer yes when asked)",
    )
