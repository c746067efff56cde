"""The architecture as a test: imports point downward, agents -> chains -> stores (prompts is data)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.unit

#: What each layer may import from babelrag (besides itself).
ALLOWED = {
    "stores": set(),
    "prompts": set(),
    "chains": {"stores", "prompts"},
    "agents": {"chains", "stores", "prompts"},
}


def babelrag_imports(path: Path) -> set[str]:
    """The babelrag layers a module imports, at module level or inside functions."""
    layers = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "babelrag" and len(parts) > 1:
                layers.add(parts[1])
    return layers


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_imports_point_downward(layer: str) -> None:
    modules = sorted((REPO / layer).rglob("*.py"))
    assert modules, f"no modules in {layer}/"
    wrong = {
        str(path.relative_to(REPO)): sorted(found)
        for path in modules
        if (found := babelrag_imports(path) - ALLOWED[layer] - {layer})
    }
    assert not wrong, f"{layer}/ may import only {sorted(ALLOWED[layer])}: {wrong}"


def test_only_the_composition_root_opens_chroma_or_loads_models() -> None:
    """Chroma clients are opened by the runtime (through the store's helper) and Hugging Face
    models loaded by its loading module; the model pack builds the models it ships."""
    allowed = {"stores/knowledge_store.py", "agents/runtime.py"}
    offenders = []
    for layer in ("stores", "chains", "agents"):
        for path in (REPO / layer).rglob("*.py"):
            rel = path.relative_to(REPO).as_posix()
            text = path.read_text(encoding="utf-8")
            if rel.startswith("agents/modelpack/"):
                continue  # builds the models it ships
            if ("PersistentClient(" in text or "open_chroma_client(" in text) and rel not in allowed:
                offenders.append(rel)
            if (
                "from_pretrained(" in text or "SentenceTransformer(" in text
            ) and rel != "agents/hf_models.py":
                offenders.append(rel)
    assert not offenders, f"open Chroma or load models only in the composition root: {offenders}"
