"""``/v1/kbs``: list, describe, fill (uploads) and drop knowledge bases; open a cited passage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from starlette.datastructures import UploadFile

from babelrag.agents.service.backend import kb_name
from babelrag.agents.service.errors import TooLargeError
from babelrag.agents.service.routes_rag import ERRORS, in_pool, service_of
from babelrag.agents.service.schemas import DropResponse, IngestResponse, KbInfo, Passage
from babelrag.agents.service.uploads import read_chunks, save_upload, target_path, uploads_root
from babelrag.stores.errors import ConfigError

router = APIRouter(tags=["knowledge bases"])

#: Files one upload request may carry.
MAX_FILES = 32

_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["files"],
                    "properties": {
                        "files": {"type": "array", "items": {"type": "string", "format": "binary"}}
                    },
                }
            }
        },
    }
}


@router.get("/v1/kbs", response_model=dict[str, int], responses=ERRORS)
async def list_kbs(request: Request) -> dict[str, int]:
    """Knowledge bases and their chunk counts (``babelrag kb list --json``)."""
    return await in_pool(request, service_of(request).list_kbs)


@router.get("/v1/kbs/{kb}", response_model=KbInfo, responses=ERRORS)
async def kb_info(kb: str, request: Request) -> dict[str, Any]:
    """Sources, languages and embedder of one knowledge base (``babelrag kb info --json``)."""
    return await in_pool(request, service_of(request).kb_info, kb)


@router.post(
    "/v1/kbs/{kb}/files",
    response_model=IngestResponse,
    responses={**ERRORS, 413: ERRORS[400], 415: ERRORS[400]},
    openapi_extra=_UPLOAD_BODY,
)
async def upload(kb: str, request: Request) -> dict[str, Any]:
    """Upload files (multipart field ``files``) into the data directory and ingest them; the knowledge
    base is created when new. Names are reduced to their last component; only the loaders' suffixes
    are accepted; each file is limited to ``service.upload_max_mb``."""
    service = service_of(request)
    name = kb_name(kb)
    max_bytes = int(service.settings.service.upload_max_mb * 2**20)
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes * MAX_FILES + 2**20:
        raise TooLargeError(f"the upload is larger than {MAX_FILES} files of the upload limit")
    form = await request.form(max_files=MAX_FILES, max_fields=8)
    try:
        uploads = [f for f in form.getlist("files") if isinstance(f, UploadFile)]
        if not uploads:
            raise ConfigError("no files in the upload", hint="send multipart/form-data with field 'files'")
        root = uploads_root(service.settings.home, name)
        targets = [target_path(root, f.filename) for f in uploads]  # every name checked before writing
        if len(set(targets)) != len(targets):
            raise ConfigError("two uploaded files have the same name")
        saved: list[Path] = []
        for f, target in zip(uploads, targets, strict=True):
            await save_upload(read_chunks(f), target, max_bytes=max_bytes)
            saved.append(target)
    finally:
        await form.close()
    return await in_pool(request, service.ingest, name, saved)


@router.delete("/v1/kbs/{kb}", response_model=DropResponse, responses=ERRORS)
async def drop_kb(kb: str, request: Request) -> dict[str, Any]:
    """Delete a knowledge base's chunks and vectors, and the files uploaded to it."""
    return await in_pool(request, service_of(request).drop_kb, kb)


@router.get("/v1/kbs/{kb}/passages/{chunk_id}", response_model=Passage, responses=ERRORS)
async def passage(kb: str, chunk_id: str, request: Request) -> dict[str, Any]:
    """A stored passage (what a citation's ``id`` points to) with its neighbours' text."""
    return await in_pool(request, service_of(request).passage, kb, chunk_id)
