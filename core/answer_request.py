"""One question as asked, as a value: everything that shapes its answer, and its deadline.

Per-request variation (another passage count, mode, prompt version, retrieval fusion, evidence model,
a client's sampling options) travels in the request, never by copying long-lived objects.
``AnswerShape`` is what a request resolves to against the configured defaults (the Answerer
resolves it); the answer cache's key is
``answer_key(request, shape)``, the one place it is derived: every field that shapes an answer is
in it, and nothing else (the deadline is not).

    >>> r = AnswerRequest("When was it built?", "docs", top_k=3)
    >>> shape = AnswerShape(mode="extractive", top_k=3, model="extractive:evidence-v2", prompt_version="-")
    >>> answer_key(r, shape) == answer_key(AnswerRequest("when was it built", "docs", top_k=3), shape)
    True
    >>> answer_key(r, shape) == answer_key(AnswerRequest("When was it built?", "other"), shape)
    False
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import asdict, dataclass, field
from typing import Any, get_args

from core.errors import InvalidRequest
from core.protocols import GenerationOptions
from core.types import AnswerMode, ChatMessage, FusionMode, SearchFilters

# Bumped when what an answer is made of changes (a new guardrail on its text), so that answers
# cached before the change are not served after it. 2: unsourced links and addresses stripped;
# 3: the key derived from the request (mode and options their own fields); 4: citations say
# where ("location": "p. 2", "slide 3").
ANSWER_FORMAT = 4
_SPACES = re.compile(r"\s+")
_TRAILING = re.compile(r"[\s?!.。？！]+$")
MODES: tuple[str, ...] = get_args(AnswerMode)
FUSION_MODES: tuple[str, ...] = get_args(FusionMode)
# An evidence model's name: a file's stem in ``answer.evidence_models_dir`` (or ``default``, the shipped one).
EVIDENCE_MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True, slots=True)
class AnswerRequest:
    """A question to answer. ``None`` fields take the configured default; ``deadline`` is a
    ``time.monotonic()`` instant by which the answer is due (None: no deadline of its own)."""

    question: str
    collection: str
    filters: SearchFilters | None = None
    history: tuple[ChatMessage, ...] = ()
    top_k: int | None = None
    options: GenerationOptions | None = None
    mode: AnswerMode | None = None
    prompt_version: str | None = None
    fusion: FusionMode | None = None  # how retrieval fuses dense and BM25 lists (``retrieval.mode``'s values)
    evidence_model: str | None = None  # which evidence model scores the sentences (``answer.evidence_model``)
    deadline: float | None = field(default=None, compare=False)
    # The experiment arm that set some of the fields above (``<experiment>/<arm>``, ``core.experiments``):
    # in the cache keys, so two arms never share an answer even where their settings resolve alike.
    arm: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.history, tuple):  # a list from a caller: kept immutable
            object.__setattr__(self, "history", tuple(self.history))
        if self.mode is not None and self.mode not in MODES:
            raise InvalidRequest(f"unknown answer mode {self.mode!r}: use {', '.join(MODES)}")
        if self.top_k is not None and self.top_k < 1:
            raise InvalidRequest(f"top_k must be at least 1, not {self.top_k}")
        if self.fusion is not None and self.fusion not in FUSION_MODES:
            raise InvalidRequest(f"unknown retrieval fusion {self.fusion!r}: use {', '.join(FUSION_MODES)}")
        if self.evidence_model is not None and not EVIDENCE_MODEL_NAME.fullmatch(self.evidence_model):
            raise InvalidRequest(f"evidence model name {self.evidence_model!r}: 1-64 letters, digits, '.', '_' "
                                 "and '-', starting with a letter or digit")


@dataclass(frozen=True, slots=True)
class AnswerShape:
    """A request resolved against the defaults: what writes the answer and from how much.

    ``model`` names what writes it (``extractive:<evidence model>`` when no model does);
    ``prompt_version`` is ``-`` when no prompt is used; ``options`` is the fingerprint of the
    request's generation options where a model uses them, else empty. ``fusion`` is the request's
    retrieval fusion and ``evidence`` the version of the evidence model it chose, each empty when the
    request leaves it to the configuration (the keys of such answers stay as they were).
    """

    mode: str
    top_k: int
    model: str
    prompt_version: str
    options: str = ""
    fusion: str = ""
    evidence: str = ""

    @property
    def model_label(self) -> str:
        """The model as reports name it, the mode beside it where a model writes."""
        return self.model if self.mode == "extractive" else f"{self.model}|{self.mode}"

    @property
    def prompt_label(self) -> str:
        return f"{self.prompt_version}|opts:{self.options}" if self.options else self.prompt_version


def answer_key(request: AnswerRequest, shape: AnswerShape) -> str:
    """The answer cache's key for ``request`` (the index version is added at lookup)."""
    material = {
        "q": normalize_question(request.question), "c": request.collection, "f": canonical_filters(request.filters),
        "h": [[m.role, normalize_question(m.content)] for m in request.history],
        "k": shape.top_k, "mode": shape.mode, "m": shape.model, "p": shape.prompt_version, "o": shape.options,
        "v": ANSWER_FORMAT,
    }  # fmt: skip
    _add_choices(material, request, shape)
    return _digest(material)


def semantic_scope(request: AnswerRequest, shape: AnswerShape, embedder: str) -> str:
    """The semantic cache's scope: a similar question may reuse an answer only inside it. The
    embedder is in it: question vectors of two embedders are not comparable; so is an experiment's arm."""
    material = {"c": request.collection, "f": canonical_filters(request.filters), "k": shape.top_k,
                "mode": shape.mode, "m": shape.model, "e": embedder, "p": shape.prompt_version,
                "o": shape.options, "v": ANSWER_FORMAT}  # fmt: skip
    _add_choices(material, request, shape)
    return _digest(material)[:32]


def _add_choices(material: dict[str, Any], request: AnswerRequest, shape: AnswerShape) -> None:
    """What a request chose beyond the defaults, only where it chose: the keys of other answers stay as they were."""
    if shape.fusion:
        material["fu"] = shape.fusion
    if shape.evidence:
        material["ev"] = shape.evidence
    if request.arm is not None:
        material["x"] = request.arm


def normalize_question(text: str) -> str:
    """Case, Unicode form, spacing and trailing punctuation don't change what is asked.

        >>> normalize_question("  What IS  the capital of France? ")
        'what is the capital of france'
    """
    text = unicodedata.normalize("NFKC", text).casefold().strip()
    text = _SPACES.sub(" ", text)
    return _TRAILING.sub("", text)


def canonical_filters(filters: SearchFilters | None) -> Any:
    return _canonical(asdict(filters)) if filters is not None else {}


def _canonical(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in sorted(value.items()) if v not in (None, [], {}, ())}
    if isinstance(value, list | tuple):
        return sorted((_canonical(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True, default=str))
    return value


def _digest(material: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(material, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()
