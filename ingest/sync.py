"""Keeping a collection equal to a folder: the documents ingested from under a folder whose file
has since been deleted (``ragqa ingest PATH --sync`` removes them).

Only what is provably gone is removed: a document counts when its stored source is an absolute
path under one of the folders and no file (or link) is there any more. A file that merely failed
to parse, or that another ``--glob`` left out, still exists and stays.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from core.errors import NotFound
from retrieval.index import DocumentInfo, IndexInventory, IndexWriter

PAGE = 200


def indexed_documents(index: IndexInventory, collection: str) -> Iterator[DocumentInfo]:
    """Every document of the collection, page by page (none when it does not exist)."""
    offset = 0
    while True:
        try:
            page = index.list_documents(collection, offset=offset, limit=PAGE)
        except NotFound:
            return  # nothing was ever ingested here
        yield from page.documents
        offset += len(page.documents)
        if not page.documents or offset >= page.total:
            return


def vanished(index: IndexInventory, collection: str, roots: Sequence[Path]) -> list[DocumentInfo]:
    """The collection's documents ingested from under a folder of ``roots`` whose file is gone."""
    folders = [Path(os.path.abspath(root)) for root in roots if Path(root).is_dir()]
    if not folders:
        return []
    return [doc for doc in indexed_documents(index, collection)
            if (path := Path(doc.source)).is_absolute() and any(path.is_relative_to(f) for f in folders)
            and not os.path.lexists(path)]


def remove_vanished(index: IndexWriter, inventory: IndexInventory, collection: str,
                    roots: Sequence[Path]) -> dict[str, int]:
    """Deletes each vanished document; doc_id -> chunks removed."""
    return {doc.doc_id: index.delete_document(collection, doc.doc_id) for doc in vanished(inventory, collection, roots)}
