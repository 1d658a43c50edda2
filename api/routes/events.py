"""`POST /events`: what a reader did with an answer (opened a source, copied the text), as the widget
reports it. Counted in ``ragqa_answer_events_total{kind}``, and for the answer's arm when it was made
in a live experiment (``ragqa experiments report`` shows the rates). Widget tokens may send it; it is
rate-limited like every request (the key's, or the token's and the visitor's)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, status

from api.deps import principal_of, services_of
from api.routes import errors
from api.schemas import EventRequest, EventResponse
from core.errors import NotFound

router = APIRouter(tags=["feedback"])


@router.post("/events", response_model=EventResponse, status_code=status.HTTP_202_ACCEPTED,
             responses=errors(401, 403, 404, 413, 422, 429, 503),
             summary="Report what a reader did with an answer (citation_open, copy)")
async def record_event(body: EventRequest, request: Request) -> Any:
    principal_of(request).require("ask")
    services = services_of(request)
    record = await services.cache.answer_record(body.answer_id)
    if record is None:
        raise NotFound(f"answer {body.answer_id!r} is unknown or too old")
    services.metrics.answer_events.labels(kind=body.kind).inc()
    experiment = record.get("experiment")
    book = services.signals.experiments
    counted = book is not None and await book.count(experiment, body.kind)
    return {"answer_id": body.answer_id, "kind": body.kind, "experiment": experiment if counted else None}
