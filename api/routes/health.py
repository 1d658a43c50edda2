"""Public routes: `GET /healthz` (the process), `GET /readyz` (its dependencies), `GET /metrics` (Prometheus)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from api.deps import services_of
from api.schemas import HealthResponse, ReadyResponse

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthResponse, summary="The process is up")
async def healthz() -> Any:
    return {"status": "ok"}


@router.get("/readyz", response_model=ReadyResponse, summary="Index, Redis and LLM: ok, degraded or down",
            responses={503: {"model": ReadyResponse, "description": "No answer is possible right now."}})
async def readyz(request: Request) -> Any:
    overall, checks = await services_of(request).readiness.check()
    return JSONResponse({"status": overall, "checks": checks}, status_code=503 if overall == "down" else 200)


@router.get("/metrics", response_class=Response, summary="Prometheus metrics",
            responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}}})
async def metrics(request: Request) -> Response:
    return Response(services_of(request).metrics.render(), media_type=CONTENT_TYPE_LATEST)
