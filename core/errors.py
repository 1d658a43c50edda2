"""The one error tree of ragqa.

Every failure that crosses a module boundary is one of these; adapters translate
third-party exceptions at the edge (``raise IndexUnavailable(...) from exc``)::

    RagqaError
    ├── IngestError                 a document could not be ingested (permanent for that document)
    │   ├── UnsupportedFormat       extension / content type we do not parse
    │   ├── ParseError              corrupt, empty, undecodable or unreadable input
    │   │   └── NotARegularFile     a FIFO, socket, device, directory or a symlink out of its folder
    │   └── DocumentTooLarge        over the configured size limit
    ├── IndexStoreError             the vector index
    │   ├── IndexUnavailable        cannot reach / open the store (transient)
    │   ├── IndexLocked             an embedded store is held by another process
    │   └── CollectionMismatch      collection exists with another schema (vector size)
    ├── StoreUnavailable            Redis (jobs, answer cache, feedback, rate limits) or the task
    │                               broker cannot be reached (transient)
    ├── RetryLater                  a job's document met a transient failure: run it again later
    ├── LLMError
    │   ├── LLMUnavailable          connection refused, server down
    │   └── LLMTimeout              no answer in time
    ├── AnswerTimeout               the whole answer took longer than its deadline (transient)
    ├── GuardrailViolation          input rejected by a guardrail
    ├── NotFound                    a document, job or collection that does not exist
    ├── InvalidRequest              malformed input from a caller
    │   └── PayloadTooLarge         an upload or request body over its size limit
    ├── Unauthorized                no API key, or an unknown one
    ├── Forbidden                   authenticated, but not allowed this
    ├── RateLimited                 the caller's token bucket is empty (``retry_after_s``)
    │   └── QuotaExceeded           an API key used its tokens of the day (``retry_after_s``: the reset)
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


class NotARegularFile(ParseError):
    code = "not_a_regular_file"


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


class StoreUnavailable(RagqaError):
    """Redis (ingestion jobs, the answer cache, feedback, rate limits) or the task broker cannot be reached."""

    code = "store_unavailable"
    transient = True


class RetryLater(RagqaError):
    """A transient failure of one job document: whoever runs it should hand it over again after a backoff."""

    code = "retry_later"
    transient = True


class AnswerTimeout(RagqaError):
    """The whole answer took longer than ``api.answer_timeout_s``."""

    code = "timeout"
    transient = True


class PayloadTooLarge(InvalidRequest):
    code = "payload_too_large"


class Unauthorized(RagqaError):
    """No API key, or one that is not configured."""

    code = "unauthorized"


class Forbidden(RagqaError):
    """Authenticated, but not allowed this (a widget token used from another origin, route or collection)."""

    code = "forbidden"


class RateLimited(RagqaError):
    """The caller's token bucket is empty; ``retry_after_s`` says when one token is back."""

    code = "rate_limited"

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class QuotaExceeded(RateLimited):
    """An API key has used its daily token quota; ``retry_after_s`` says when the day's count resets."""

    code = "quota_exceeded"
