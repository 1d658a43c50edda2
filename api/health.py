"""Readiness: the index, Redis and the LLM (and, when uploads go to Celery, the workers), each
``ok``, ``degraded`` or ``down``.

The overall status is ``down`` (503) only when no answer is possible: the index is down, or
the LLM is down with the sources-only fallback off. Redis down is ``degraded``: answers still
go out, uncached.

    >>> overall({"index": "ok", "redis": "down", "llm": "ok"}, llm_fallback=True)
    'degraded'
"""

from __future__ import annotations

import time
from typing import Literal

import anyio
import httpx

from core.errors import RagqaError, StoreUnavailable
from core.settings import Settings
from retrieval.index import IndexInventory
from state.guard import GuardedRedis
from state.keys import Keyspace

Status = Literal["ok", "degraded", "down"]
Check = dict[str, str]


def overall(statuses: dict[str, str], llm_fallback: bool) -> Status:
    if statuses.get("index") == "down" or (statuses.get("llm") == "down" and not llm_fallback):
        return "down"
    # "unused": the LLM, when no answer mode calls it, is neither ready nor missing.
    return "ok" if all(s in ("ok", "unused") for s in statuses.values()) else "degraded"


class Readiness:
    """Runs the three checks concurrently, each bounded by a short timeout.

    Example::

        status, checks = await readiness.check()   # ("degraded", {"redis": {"status": "down", ...}, ...})
    """

    def __init__(self, index: IndexInventory, guarded: GuardedRedis, http: httpx.AsyncClient, settings: Settings,
                 upload_queue: str | None = None) -> None:
        self.index = index
        self.guarded = guarded
        self.http = http
        self.settings = settings
        self.upload_queue = upload_queue  # uploads go to Celery: some worker must consume this queue

    async def check(self) -> tuple[Status, dict[str, Check]]:
        checks: dict[str, Check] = {}

        async def run(name: str, probe: object) -> None:
            checks[name] = await probe  # type: ignore[misc]

        async with anyio.create_task_group() as group:
            group.start_soon(run, "index", self._index())
            group.start_soon(run, "redis", self._redis())
            group.start_soon(run, "llm", self._llm())
            if self.upload_queue is not None:
                group.start_soon(run, "workers", self._workers(self.upload_queue))
        statuses = {name: c["status"] for name, c in checks.items()}
        return overall(statuses, self.settings.guardrails.fallback_sources_only), checks

    async def _index(self) -> Check:
        try:
            with anyio.fail_after(2.0):
                names = await anyio.to_thread.run_sync(self.index.list_collections, abandon_on_cancel=True)
        except TimeoutError:
            return {"status": "down", "detail": "the index did not answer within 2 s"}
        except RagqaError as exc:
            return {"status": "down", "detail": exc.message}
        return {"status": "ok", "detail": f"{len(names)} collection(s)"}

    async def _redis(self) -> Check:
        state = self.guarded.breaker.state
        try:
            await self.guarded.call("ping", self._ping)
        except StoreUnavailable as exc:
            return {"status": "down", "detail": f"{exc.message} (answers are served uncached)"}
        return {"status": "ok" if state == "closed" else "degraded", "detail": f"circuit {state}"}

    async def _workers(self, queue: str) -> Check:
        key = Keyspace.from_settings(self.settings.redis).consumers(queue)
        now_ms = int(time.time() * 1000)
        try:
            live = await self.guarded.call("consumers", lambda: self.guarded.client.zcount(key, now_ms, "+inf"))
        except StoreUnavailable as exc:
            return {"status": "degraded", "detail": f"cannot tell who consumes {queue}: {exc.message}"}
        if not live:
            return {"status": "degraded", "detail": f"no worker consumes queue {queue}: uploads wait until one "
                                                    "starts (`ragqa worker`)"}
        return {"status": "ok", "detail": f"{live} worker process(es) on {queue}"}

    async def _ping(self) -> bool:
        return bool(await self.guarded.client.ping())

    async def _llm(self) -> Check:
        llm = self.settings.llm
        if self.settings.answer.resolved_mode(has_llm_server=bool(llm.base_url)) == "extractive":
            return {"status": "unused", "detail": "extractive answers call no model (answer.mode)"}
        if not llm.base_url:
            return {"status": "ok", "detail": f"embedded llama.cpp ({llm.model})"}
        url = llm.base_url.rstrip("/") + "/models"
        headers = {"Authorization": f"Bearer {llm.api_key.get_secret_value()}"}
        try:
            response = await self.http.get(url, headers=headers, timeout=self.settings.api.llm_probe_timeout_s)
        except httpx.HTTPError as exc:
            return {"status": "down", "detail": f"{url}: {type(exc).__name__}"}
        if response.status_code >= 500:
            return {"status": "down", "detail": f"{url}: HTTP {response.status_code}"}
        if response.status_code >= 400:
            return {"status": "degraded", "detail": f"{url}: HTTP {response.status_code}"}
        return {"status": "ok", "detail": llm.base_url}
