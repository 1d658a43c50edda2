"""Collection admin: `POST /collections/{name}/reindex` starts a re-index inside the server (the way
to re-index an embedded store while it answers), `GET /collections/{name}/reindex/{task_id}` follows it.
Both need the `admin` role."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, status

from api.collection_schemas import ReindexRequest, ReindexTaskResponse
from api.deps import principal_of, services_of
from api.routes import errors
from api.streaming import run_blocking
from core.names import COLLECTION_PATTERN

router = APIRouter(tags=["collections"])
NamePath = Annotated[str, Path(pattern=COLLECTION_PATTERN, description="The collection's name.")]


@router.post("/collections/{name}/reindex", response_model=ReindexTaskResponse, status_code=status.HTTP_202_ACCEPTED,
             responses=errors(400, 401, 403, 404, 422, 429, 503),
             summary="Re-index a collection in the background (new chunking), switch the name, drop the old one")
async def start_reindex(name: NamePath, request: Request, body: ReindexRequest | None = None) -> Any:
    principal = principal_of(request)
    principal.require("admin", name)
    services = services_of(request)
    options = (body or ReindexRequest()).options()
    task = await run_blocking(services.reindex.start, name, options, f"{principal.kind}:{principal.name}")
    await services.audit.record(principal, "collection_reindex", "POST /collections/reindex", collection=name,
                                target=task["task_id"], status=202)
    return task


@router.get("/collections/{name}/reindex/{task_id}", response_model=ReindexTaskResponse,
            responses=errors(401, 403, 404, 429, 503), summary="A re-index's progress and, once over, its report")
async def get_reindex(name: NamePath, task_id: Annotated[str, Path(pattern=r"^[0-9a-f]{1,64}$")],
                      request: Request) -> Any:
    principal_of(request).require("admin", name)
    return services_of(request).reindex.get(name, task_id)
