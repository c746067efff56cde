"""``/v1/sessions``: chat sessions saved in the data directory, and their turns.

A turn reads its session on the generator's thread, under the session's lock, and saves it there
with both new turns, so concurrent turns on one session are answered one after the other, each
seeing the turns before it, and none is lost.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Request, Response

from babelrag.agents.service.backend import answer_dict
from babelrag.agents.service.lifecycle import job_result
from babelrag.agents.service.routes_rag import ERRORS, SSE_DOC, in_pool, service_of, timeout_of
from babelrag.agents.service.schemas import (
    Session,
    SessionCreate,
    SessionSummary,
    SessionUpdate,
    TurnRequest,
    TurnResponse,
)
from babelrag.agents.service.sse import answer_events, event_stream, wants_stream

router = APIRouter(tags=["chat sessions"])


@router.get("/v1/sessions", response_model=list[SessionSummary], responses=ERRORS)
async def list_sessions(request: Request) -> list[dict[str, Any]]:
    return await in_pool(request, service_of(request).list_sessions)


@router.post("/v1/sessions", response_model=Session, status_code=201, responses=ERRORS)
async def create_session(body: SessionCreate, request: Request) -> dict[str, Any]:
    session = await in_pool(request, service_of(request).create_session, body.kb, body.lang)
    return asdict(session)


@router.get("/v1/sessions/{session_id}", response_model=Session, responses=ERRORS)
async def get_session(session_id: str, request: Request) -> dict[str, Any]:
    return asdict(service_of(request).load_session(session_id))


@router.patch("/v1/sessions/{session_id}", response_model=Session, responses=ERRORS)
async def update_session(session_id: str, body: SessionUpdate, request: Request) -> dict[str, Any]:
    """Set the session's answer language, or null to answer each turn in its own language."""
    session = await in_pool(request, service_of(request).update_session, session_id, body.lang)
    return asdict(session)


@router.delete("/v1/sessions/{session_id}", status_code=204, responses=ERRORS)
async def delete_session(session_id: str, request: Request) -> Response:
    await in_pool(request, service_of(request).delete_session, session_id)
    return Response(status_code=204)


@router.post(
    "/v1/sessions/{session_id}/turns",
    response_model=TurnResponse,
    responses={**ERRORS, 200: SSE_DOC | {"model": TurnResponse}},
)
async def post_turn(session_id: str, body: TurnRequest, request: Request) -> Any:
    """Ask in a session: answered in the message's language (or the session's); follow-ups use the
    history. Concurrent turns on one session are answered in order and all kept."""
    service = service_of(request)
    kb = service.load_session(session_id).kb  # 404 before queueing
    job = service.queue.submit(service.turn_work(session_id, body.message))

    def serialize(result: Any, queue_s: float) -> dict[str, Any]:
        return {**answer_dict(result, kb, queue_s), "session_id": session_id}

    if wants_stream(request, body.stream):
        return event_stream(answer_events(job, request, timeout_of(request), serialize))
    result, queue_s = await job_result(job, request, timeout_of(request))
    return serialize(result, queue_s)
