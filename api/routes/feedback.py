"""`POST /feedback`: a rating of a served answer, kept durably (export with `ragqa feedback export`); a
down-vote evicts the answer from the cache."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, status

from api.deps import principal_of, services_of
from api.routes import errors
from api.schemas import FeedbackRequest, FeedbackResponse

router = APIRouter(tags=["feedback"])


@router.post("/feedback", response_model=FeedbackResponse, status_code=status.HTTP_201_CREATED,
             responses=errors(401, 403, 404, 413, 422, 429, 503), summary="Rate an answer (up or down), with a comment")
async def give_feedback(body: FeedbackRequest, request: Request) -> Any:
    principal_of(request).require("ask")
    recorded = await services_of(request).feedback.record(body.answer_id, body.rating, body.comment, body.correction)
    return {"feedback_id": recorded.feedback_id, "answer_id": body.answer_id, "cache_evicted": recorded.cache_evicted}
