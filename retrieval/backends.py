"""The factory that chooses a ``VectorIndex`` backend by settings.

The backends (``retrieval.edge_index``, ``retrieval.qdrant_client_index``) import the protocol and
the schema from ``retrieval.index``; only this module imports the backends, and none of them imports
it (an import-linter contract), so the modules form no circle.

Example::

    index = open_index(QdrantSettings(path=Path("data/qdrant")))   # embedded: Qdrant Edge
    index.ensure_collection("docs", dense_size=384)
    index.close()
"""

from __future__ import annotations

import json

from core.settings import QdrantSettings
from retrieval.index import VectorIndex


def open_index(settings: QdrantSettings) -> VectorIndex:
    """The backend the settings ask for: a server when ``url`` is set, else an embedded store.

    Embedded, ``backend="auto"`` means Qdrant Edge, except on a folder that already holds
    qdrant-client local-mode collections: those stay readable instead of silently vanishing
    (set ``backend="edge"`` and re-ingest to move them). ``"edge"`` and ``"local"`` force an engine.
    """
    # Each backend is imported only when chosen: a process needs just one engine's client loaded.
    if settings.url:
        from retrieval.qdrant_client_index import QdrantClientIndex

        return QdrantClientIndex.for_server(settings)
    backend = settings.backend
    if backend == "auto":
        try:  # local mode keeps its collections in meta.json; Edge never writes that file
            meta = json.loads((settings.path / "meta.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            meta = None
        backend = "local" if isinstance(meta, dict) and meta.get("collections") else "edge"
    if backend == "local":
        from retrieval.qdrant_client_index import QdrantClientIndex

        return QdrantClientIndex.for_local(settings.path)
    from retrieval.edge_index import EdgeIndex

    return EdgeIndex(settings.path, hnsw_ef=settings.hnsw_ef)
