"""Documents and jobs: `POST /documents` (multipart) -> a job; `GET|DELETE /jobs/{id}`;
`GET /documents` (the inventory), `GET /documents/{doc_id}` (one document), `GET /documents/{doc_id}/text`
(its text, the one citations' offsets index), `DELETE /documents/{doc_id}`; `GET /collections`.

Doc ids may hold slashes (`set1/a1.txt`), so the routes take `{doc_id:path}`; the `/text` route is
declared before the detail route, which would otherwise take `set1/a1.txt/text` as an id."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Path, Query, Request, UploadFile, status

from api.deps import principal_of, services_of
from api.routes import errors
from api.schemas import (
    COLLECTION_PATTERN,
    CollectionsResponse,
    DeletedResponse,
    DocumentOut,
    DocumentsResponse,
    DocumentTextResponse,
    JobAccepted,
    JobResponse,
)
from core.access import parse_acl
from core.names import parse_tag_pairs
from core.types import SearchFilters

router = APIRouter(tags=["documents"])
CollectionQuery = Annotated[str | None, Query(pattern=COLLECTION_PATTERN, description="Default: `docs`.")]
DocIdPath = Annotated[str, Path(min_length=1, max_length=1000, description="The document's id (may hold slashes).")]


@router.post("/documents", response_model=JobAccepted, status_code=status.HTTP_202_ACCEPTED,
             responses=errors(400, 401, 403, 413, 422, 429, 503),
             summary="Upload one or more files to ingest; returns a job to follow")
async def upload_documents(
    request: Request,
    files: Annotated[list[UploadFile], File(
        description="The files (.txt .md .html .pdf .docx .pptx .odt .rtf .epub .csv .tsv .xlsx .eml .mbox "
        ".png .jpg .tiff).")],
    collection: Annotated[str | None, Form(pattern=COLLECTION_PATTERN, description="Default: `docs`.")] = None,
    tags: Annotated[list[str] | None, Form(
        description="`key=value` metadata, repeatable, merged onto a document's tags (`key=` removes "
        "one). Absent: a document already indexed keeps its tags.")] = None,
    doc_ids: Annotated[list[str] | None, Form(
        description="The id to index each file as, in the order of `files` (default: its safe file name). "
        "`ragqa ingest --server` sends the ids a local ingest would use, so both update the same documents.",
    )] = None,
    sources: Annotated[list[str] | None, Form(
        description="Where each file came from, in the order of `files` (what `ragqa delete --source` "
        "matches; default: its file name).",
    )] = None,
    acl: Annotated[list[str] | None, Form(
        description="Who may read the documents: `user:NAME` or `group:NAME`, repeatable (or comma-separated). "
        "Absent: a document already indexed keeps its readers; a new one is readable by everyone who may use "
        "the collection.")] = None,
) -> Any:
    tag_pairs = dict(parse_tag_pairs([t for t in tags if t])) if tags else None
    services = services_of(request)
    name = collection or services.settings.ingest.default_collection
    principal = principal_of(request)
    principal.require("ingest", name)
    access = parse_acl(e for entry in acl for e in entry.split(",")) if acl else None
    accepted = await services.documents.upload(files, name, tag_pairs, doc_ids=doc_ids, sources=sources, acl=access)
    await services.audit.record(principal, "upload", "POST /documents", collection=name,
                                doc_ids=accepted["documents"], target=accepted["job_id"], status=202)
    return accepted


@router.get("/jobs/{job_id}", response_model=JobResponse, responses=errors(401, 403, 404, 429, 503),
            summary="An ingestion job's state and each document's progress")
async def get_job(job_id: Annotated[str, Path(pattern=r"^[0-9a-f]{1,64}$")], request: Request) -> Any:
    principal = principal_of(request)
    principal.require("ingest")
    job = await services_of(request).documents.job(job_id)
    principal.require("ingest", job["collection"])  # a job names its documents: only for its collection's
    return job


@router.delete("/jobs/{job_id}", response_model=JobResponse, responses=errors(401, 403, 404, 429, 503),
               summary="Cancel a job: documents not yet started are skipped")
async def cancel_job(job_id: Annotated[str, Path(pattern=r"^[0-9a-f]{1,64}$")], request: Request) -> Any:
    principal = principal_of(request)
    principal.require("ingest")
    services = services_of(request)
    principal.require("ingest", (await services.documents.job(job_id))["collection"])
    job = await services.documents.cancel(job_id)
    await services.audit.record(principal, "cancel", "DELETE /jobs", collection=job.get("collection"),
                                target=job_id, status=200)
    return job


@router.delete("/documents/{doc_id:path}", response_model=DeletedResponse,
               responses=errors(400, 401, 403, 404, 429, 503),
               summary="Delete a document's chunks; cached answers that cited it are evicted")
async def delete_document(
    doc_id: Annotated[str, Path(min_length=1, max_length=1000)], request: Request,
    collection: CollectionQuery = None,
) -> Any:
    services = services_of(request)
    name = collection or services.settings.ingest.default_collection
    principal = principal_of(request)
    principal.require("ingest", name)
    deleted = await services.documents.delete(name, doc_id, principal.readers)
    await services.audit.record(principal, "delete", "DELETE /documents", collection=name, doc_ids=[doc_id],
                                status=200)
    return deleted


@router.get("/collections", response_model=CollectionsResponse, responses=errors(401, 403, 429, 503),
            summary="Collections with their document and chunk counts")
async def list_collections(request: Request) -> Any:
    principal = principal_of(request)
    principal.require("ask")
    return {"collections": [c for c in await services_of(request).documents.collections()
                            if principal.may_use(c["name"])]}



@router.get("/documents", response_model=DocumentsResponse, responses=errors(400, 401, 403, 404, 422, 429, 503),
            summary="The documents of a collection, by doc_id, a page at a time")
async def list_documents(
    request: Request,
    collection: CollectionQuery = None,
    tag: Annotated[list[str] | None, Query(max_length=50, description="`key=value`: every one matches.")] = None,
    source_prefix: Annotated[str | None, Query(max_length=1000,
                                               description="Only documents whose `source` starts with this.")] = None,
    ingested_after: Annotated[datetime | None, Query(description="Only documents ingested after this time.")] = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500, description="At most 500 a page.")] = 50,
) -> Any:
    services = services_of(request)
    name = collection or services.settings.ingest.default_collection
    principal = principal_of(request)
    principal.require("ask", name)
    filters = SearchFilters(tags_all=parse_tag_pairs(tag or []), ingested_after=ingested_after,
                            readers=principal.readers)
    return await services.documents.inventory(name, None if filters.is_empty() else filters, source_prefix,
                                              offset, limit)


@router.get("/documents/{doc_id:path}/text", response_model=DocumentTextResponse,
            responses=errors(400, 401, 403, 404, 422, 429, 503),
            summary="A document's normalized text (the one citations' offsets index), or a span of it")
async def document_text(
    doc_id: DocIdPath, request: Request, collection: CollectionQuery = None,
    start: Annotated[int | None, Query(ge=0, description="First character (default 0).")] = None,
    end: Annotated[int | None, Query(ge=0, description="One past the last character (default: the end).")] = None,
    context: Annotated[int, Query(ge=0, le=5000, description="Characters of context on each side.")] = 0,
) -> Any:
    services = services_of(request)
    name = collection or services.settings.ingest.default_collection
    principal = principal_of(request)
    principal.require("ask", name)
    return await services.documents.text(name, doc_id, start, end, context, principal.readers)


@router.get("/documents/{doc_id:path}", response_model=DocumentOut, responses=errors(401, 403, 404, 422, 429, 503),
            summary="One document: title, relative source, tags, chunk count, content hash, ingest time")
async def get_document(doc_id: DocIdPath, request: Request, collection: CollectionQuery = None) -> Any:
    services = services_of(request)
    name = collection or services.settings.ingest.default_collection
    principal = principal_of(request)
    principal.require("ask", name)
    return await services.documents.document(name, doc_id, principal.readers)
