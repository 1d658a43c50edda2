"""Finding the documents to ingest: files under paths, each with a stable doc_id.

A doc_id is the file's path relative to the root it was found under (POSIX form), so the
same file ingested again from the same root replaces itself.

Example::

    [s.doc_id for s in iter_sources([Path("docs")], "*.md")]
    # ['architecture.md', 'configuration.md', 'deploy.md']
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import DocumentTooLarge, IngestError, NotFound
from ingest.files import read_file
from retrieval.evaluation import EvalDataset

if TYPE_CHECKING:
    from ingest.parsing import ParsedText


@dataclass(slots=True)
class SourceDocument:
    """A document to ingest: where its bytes come from and who it is.

    ``data`` is given for uploads; files are read lazily by ``read`` so a batch never holds
    every file in memory. ``root`` is the folder the file was found under: a symlink is read
    only when it leads inside it (``ingest.files``). ``parsed`` is a text already parsed (a
    re-index rebuilding a document whose file is gone from the text the index kept): not parsed again.
    """

    doc_id: str
    name: str
    source: str
    path: Path | None = None
    data: bytes | None = None
    # Tag changes, merged onto what the index holds: ``k=v`` sets k, ``k=`` (empty) removes it; None
    # changes nothing. ``replace_tags``: the document's tags become exactly ``tags`` instead.
    tags: dict[str, str] | None = None
    replace_tags: bool = False
    # Who may read it (``core.access.parse_acl``); None keeps what the index holds (public when new).
    acl: tuple[str, ...] | None = None
    title: str | None = None
    error: IngestError | None = None
    root: Path | None = None
    parsed: ParsedText | None = None

    def read(self, max_bytes: int, follow_symlinks: bool = True) -> bytes:
        """The bytes, at most ``max_bytes``; a file must be a regular one (``ingest.files.read_file``)."""
        if self.error is not None:
            raise self.error
        if self.data is not None:
            if len(self.data) > max_bytes:
                raise DocumentTooLarge(f"{self.name}: {len(self.data)} bytes is over the {max_bytes}-byte limit")
            return self.data
        assert self.path is not None
        return read_file(self.path, max_bytes, self.root, follow_symlinks, self.name)


def iter_sources(paths: Iterable[Path], glob: str = "*", recursive: bool = True,
                 tags: dict[str, str] | None = None, replace_tags: bool = False) -> Iterator[SourceDocument]:
    """Files under each path (a file is its own root). Missing paths raise NotFound up front.
    ``tags`` are merged onto each document's (``SourceDocument.tags``)."""
    roots = [Path(p) for p in paths]
    for root in roots:
        if not root.exists() and not root.is_symlink():
            raise NotFound(f"path does not exist: {root}")
    for root in roots:
        if root.is_dir():
            for file in _walk(root, recursive):
                if fnmatch.fnmatch(file.name, glob):
                    yield _source(file, file.relative_to(root).as_posix(), tags, root, replace_tags)
        else:
            yield _source(root, root.name, tags, None, replace_tags)


def _walk(root: Path, recursive: bool) -> Iterator[Path]:
    # Sorted so doc order (and thus progress and logs) is reproducible.
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".")) if recursive else []
        for name in sorted(filenames):
            if not name.startswith("."):
                yield Path(dirpath) / name


def _source(path: Path, doc_id: str, tags: dict[str, str] | None, root: Path | None,
            replace_tags: bool = False) -> SourceDocument:
    absolute = Path(os.path.abspath(path))
    return SourceDocument(doc_id=doc_id, name=path.name, source=str(absolute), path=absolute,
                          tags=dict(tags) if tags is not None else None, replace_tags=replace_tags,
                          root=Path(os.path.abspath(root)) if root is not None else None)


def dataset_sources(dataset: EvalDataset) -> list[SourceDocument]:
    """An evaluation set's documents as sources to ingest (from their files, or their text)."""
    return [
        SourceDocument(d.doc_id, d.path.name if d.path else f"{d.doc_id}.txt", str(d.path or f"eval:{d.doc_id}"),
                       path=d.path, data=d.text.encode() if d.text is not None else None, title=d.title or None)
        for d in dataset.documents
    ]
