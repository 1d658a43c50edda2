"""The one error tree of ragqa.

Every failure that crosses a module boundary is one of these; adapters translate
third-party exceptions at the edge (``raise IndexUnavailable(...) from exc``)::

    RagqaError
    ├── IngestError                 a document could not be ingested (permanent for that document)
    │   ├── UnsupportedFormat       extension / content type we do not parse
    │   ├── ParseError              corrupt, empty, undecodable or unreadable input
    │   └── DocumentTooLarge        over the configured size limit
    ├── IndexStoreError                the vector index
    │   ├── IndexUnavailable        cannot reach / open the store (transient)
    │   ├── IndexLocked             an embedded store is held by another process
    │   └── CollectionMismatch      collection exists with another schema (vector size)
    ├── LLMError
    │   ├── LLMUnavailable          connection refused, server down
    │   └── LLMTimeout              no answer in time
    ├── GuardrailViolation          input rejected by a guardrail
    ├── NotFound                    a document, job or collection that does not exist
    ├── InvalidRequest              malformed input from a caller
    └── ConfigurationError          settings that cannot work together

Each error has a stable ``code`` (used by the API and in ``--json`` output) and a
human ``message``.
"""

from __future__ import annotations


class RagqaError(Exception):
    """Base of all ragqa errors: a stable machine ``code`` and a human message."""

    code: str = "internal_error"
    transient: bool = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


class IngestError(RagqaError):
    code = "ingest_error"


class UnsupportedFormat(IngestError):
    code = "unsupported_format"


class ParseError(IngestError):
    code = "parse_error"


class DocumentTooLarge(IngestError):
    code = "document_too_large"


class IndexStoreError(RagqaError):
    code = "index_error"


class IndexUnavailable(IndexStoreError):
    code = "index_unavailable"
    transient = True


class IndexLocked(IndexStoreError):
    code = "index_locked"


class CollectionMismatch(IndexStoreError):
    code = "collection_mismatch"


class LLMError(RagqaError):
    code = "llm_error"


class LLMUnavailable(LLMError):
    code = "llm_unavailable"
    transient = True


class LLMTimeout(LLMError):
    code = "llm_timeout"
    transient = True


class GuardrailViolation(RagqaError):
    code = "guardrail_violation"


class NotFound(RagqaError):
    code = "not_found"


class InvalidRequest(RagqaError):
    code = "invalid_request"


class ConfigurationError(RagqaError):
    code = "configuration_error"
