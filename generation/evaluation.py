"""Answer-quality evaluation: SQuAD-style exact match and token F1, refusal and citation
figures, per-stage latency, and A/B runs of two prompt versions on the same questions.

The library half of ``ragqa eval answers``: the CLI loads questions, builds an Answerer and
prints ``EvalReport.to_dict()``.

    >>> token_f1("The Eiffel tower [1]", ["Eiffel Tower in Paris"])
    0.667
    >>> exact_match("Paris.", ["paris"])
    1.0
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import structlog

from core.answer_request import AnswerRequest
from core.errors import RagqaError
from core.sentences import split_sentences
from core.stats import percentile
from core.types import Answer, AnswerMode, SearchFilters
from generation.answerer import Answerer

log = structlog.get_logger(__name__)

_CITATION = re.compile(r"\[\d{1,3}\]")
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation)


def normalize_answer(text: str) -> str:
    """Lowercase; drop citation markers, punctuation and articles; fold whitespace (SQuAD)."""
    text = _CITATION.sub(" ", text.lower()).translate(_PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


def contains_answer(prediction: str, golds: Sequence[str]) -> float:
    """1.0 when the normalized prediction holds a normalized gold answer as whole words."""
    text = f" {normalize_answer(prediction)} "
    return 1.0 if any(f" {g} " in text for g in (normalize_answer(x) for x in golds) if g) else 0.0


def exact_match(prediction: str, golds: Sequence[str]) -> float:
    norm = normalize_answer(prediction)
    return 1.0 if any(norm == normalize_answer(g) for g in golds) else 0.0


def token_f1(prediction: str, golds: Sequence[str]) -> float:
    """Best token-overlap F1 against any gold answer, rounded to 3 places."""
    pred = normalize_answer(prediction).split()
    best = 0.0
    for gold in golds:
        ref = normalize_answer(gold).split()
        if not pred or not ref:
            best = max(best, float(pred == ref))
            continue
        overlap = sum((Counter(pred) & Counter(ref)).values())
        if overlap:
            precision, recall = overlap / len(pred), overlap / len(ref)
            best = max(best, 2 * precision * recall / (precision + recall))
    return round(best, 3)


@dataclass(frozen=True, slots=True)
class EvalQuestion:
    """A question with its gold answers; ``expect_refusal`` for questions the corpus can't answer.

    Example::

        EvalQuestion("When did Lincoln begin his political career?", ("1832",), doc_id="set3/a4.txt")
    """

    question: str
    answers: tuple[str, ...] = ()
    doc_id: str | None = None
    expect_refusal: bool = False
    yes_no: bool = False  # gold answers are yes/no: containment says nothing, so reported apart
    known_wrong: tuple[str, ...] = ()  # answers a person rated wrong (feedback): giving one again is a repeat


@dataclass(slots=True)
class EvalRecord:
    """One question's outcome: scores, flags, citation counts, timings; ``error`` is a ragqa code.

    Example::

        record = score_answer(item, answerer.ask(item.question, "docs"))
        record.f1, record.refused, record.timings_ms["generate"]
    """

    question: str
    prediction: str = ""
    exact_match: float = 0.0
    f1: float = 0.0
    contains_gold: float = 0.0
    first_sentence_contains_gold: float = 0.0
    refused: bool = False
    confidence: str = "high"  # high, low (the closest passages, hedged) or none (a refusal)
    degraded: str | None = None
    mode: str = ""
    grounded: float | None = None
    invalid_quotes: int = 0
    yes_no: bool = False
    expect_refusal: bool = False
    valid_citations: int = 0
    invalid_citations: int = 0
    context_injections: int = 0
    cited_expected_doc: bool | None = None
    repeats_known_wrong: bool | None = None  # None: no answer of the question was rated wrong
    has_gold: bool = True  # False: nothing to score against (a question to re-check, from a down-vote)
    timings_ms: dict[str, float] = field(default_factory=dict)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    error: str | None = None


def _percentile_ms(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100), rounded to the microsecond; None for no values."""
    return round(percentile(values, q, method="nearest_rank"), 3) if values else None


def _mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


@dataclass(slots=True)
class EvalReport:
    """Aggregates over one run. Quality means cover answered questions (errors excluded).

    Example::

        report = evaluate_answers(answerer, questions, "cmu")
        json.dumps(report.to_dict())            # summary plus one record per question
        report.summary()["latency_p50_ms"]      # {"retrieve": ..., "generate": ..., ...}
    """

    prompt_version: str
    model: str
    records: list[EvalRecord]
    expect_refusal: list[bool] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        ok = [r for r in self.records if r.error is None]
        markers = sum(r.valid_citations + r.invalid_citations for r in ok)
        stages = sorted({stage for r in ok for stage in r.timings_ms})
        latency = {s: [r.timings_ms[s] for r in ok if s in r.timings_ms] for s in stages}
        flags = self.expect_refusal or [r.expect_refusal for r in self.records]
        expected = [r for r, q in zip(self.records, flags, strict=True) if q and r.error is None]
        answerable = [r for r, q in zip(self.records, flags, strict=True) if not q and r.error is None]
        informative = [r for r in answerable if not r.yes_no and r.has_gold]
        with_doc = [r.cited_expected_doc for r in ok if r.cited_expected_doc is not None]
        repeats = [r.repeats_known_wrong for r in ok if r.repeats_known_wrong is not None]
        return {
            "prompt_version": self.prompt_version,
            "model": self.model,
            "questions": len(self.records),
            "errors": len(self.records) - len(ok),
            "error_codes": dict(Counter(r.error for r in self.records if r.error)),
            # Quality over answerable questions whose gold answer is not yes/no ...
            "contains_gold": _mean([r.contains_gold for r in informative]),
            "first_sentence_contains_gold": _mean([r.first_sentence_contains_gold for r in informative]),
            "exact_match": _mean([r.exact_match for r in informative]),
            "f1": _mean([r.f1 for r in informative]),
            # ... and apart, over yes/no questions (containment of "yes" says little).
            "yes_no": {"questions": sum(r.yes_no for r in answerable),
                       "f1": _mean([r.f1 for r in answerable if r.yes_no]),
                       "false_refusals": _mean([float(r.refused) for r in answerable if r.yes_no])},
            "refusal_rate": _mean([float(r.refused) for r in ok]),
            "degraded_rate": _mean([float(r.degraded is not None) for r in ok]),
            "degraded": dict(Counter(r.degraded for r in ok if r.degraded)),
            "modes": dict(Counter(r.mode for r in ok)),
            "grounded": _mean([g for g in (r.grounded for r in ok) if g is not None]),
            "citation_validity": round(sum(r.valid_citations for r in ok) / markers, 4) if markers else None,
            "invalid_quotes": sum(r.invalid_quotes for r in ok),
            "answers_with_citations": _mean([float(r.valid_citations > 0) for r in ok if not r.refused]),
            "cited_expected_doc": _mean([float(x) for x in with_doc]),
            # Questions a person rated an answer of wrong (feedback): the share answered the same way again.
            "rechecked": len(repeats),
            "repeats_known_wrong": _mean([float(x) for x in repeats]),
            "correct_refusals": _mean([float(r.refused) for r in expected]),
            "false_refusals": _mean([float(r.refused) for r in answerable]),
            # The three outcomes: a hedged answer is no refusal; a confident one to a question the
            # documents do not answer, or without the gold answer, is the failure to watch.
            "low_confidence": _mean([float(r.confidence == "low") for r in answerable]),
            "confident_wrong": _mean([float(r.confidence == "high" and not r.contains_gold)
                                      for r in informative]),
            "near_domain_confident": _mean([float(r.confidence == "high") for r in expected]),
            "context_injections": sum(r.context_injections for r in ok),
            "latency_p50_ms": {s: _percentile_ms(ms, 50) for s, ms in latency.items()},
            "latency_p95_ms": {s: _percentile_ms(ms, 95) for s, ms in latency.items()},
            "mean_prompt_tokens": _mean([float(r.prompt_tokens) for r in ok]),
            "mean_completion_tokens": _mean([float(r.completion_tokens) for r in ok]),
        }  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        return {"summary": self.summary(), "records": [asdict(r) for r in self.records]}


def score_answer(item: EvalQuestion, answer: Answer, documents: Mapping[str, str] | None = None) -> EvalRecord:
    """One record from one answer (refusals score 0 against the gold answers).

    With ``documents`` (doc_id -> the document's text), every quote is checked against the text at
    its span; a quote that differs counts in ``invalid_quotes``.
    """
    # A sources-only list names every source as [n]: those are not citations of claims.
    listed = answer.mode == "sources"
    valid = len(_CITATION.findall(answer.text)) if answer.citations and not listed else 0
    invalid = sum(1 for e in answer.guardrail_events if e.kind == "invalid_citation")
    scorable = not answer.refused and not listed and bool(item.answers)
    # The answer's first statement: its first claim (a low-confidence answer opens with a hedge, then
    # quotes), else its first sentence.
    first = (answer.claims[0].text if answer.claims
             else split_sentences(answer.text)[0].text if answer.text.strip() else "")
    return EvalRecord(
        question=item.question,
        prediction=answer.text,
        exact_match=exact_match(answer.text, item.answers) if scorable else 0.0,
        f1=token_f1(answer.text, item.answers) if scorable else 0.0,
        contains_gold=contains_answer(answer.text, item.answers) if scorable else 0.0,
        first_sentence_contains_gold=contains_answer(first, item.answers) if scorable else 0.0,
        refused=answer.refused,
        confidence=answer.confidence,
        degraded=answer.degraded,
        mode=answer.mode,
        grounded=answer.grounded,
        invalid_quotes=_invalid_quotes(answer, documents) if documents is not None else 0,
        yes_no=item.yes_no,
        expect_refusal=item.expect_refusal,
        valid_citations=valid,
        invalid_citations=invalid,
        context_injections=sum(1 for e in answer.guardrail_events if e.kind == "context_injection"),
        cited_expected_doc=(
            any(_same_doc(c.doc_id, item.doc_id) for c in answer.citations)
            if item.doc_id and answer.citations and not listed
            else None
        ),
        repeats_known_wrong=exact_match(answer.text, item.known_wrong) == 1.0 if item.known_wrong else None,
        has_gold=bool(item.answers) or item.expect_refusal,
        timings_ms=dict(answer.timings_ms),
        prompt_tokens=answer.usage.prompt_tokens,
        completion_tokens=answer.usage.completion_tokens,
    )


def _invalid_quotes(answer: Answer, documents: Mapping[str, str]) -> int:
    quotes = [(c.doc_id, c.quote) for c in answer.citations if c.quote is not None]
    by_number = {c.number: c.doc_id for c in answer.citations}
    quotes += [(by_number.get(c.quote.number, ""), c.quote) for c in answer.claims if c.quote is not None]
    return sum(1 for doc_id, q in quotes if documents.get(doc_id, "")[q.start:q.end] != q.text)


def _same_doc(cited: str, expected: str) -> bool:
    # Ingestion may key documents by absolute or relative path: compare trailing components.
    return cited == expected or cited.endswith("/" + expected) or expected.endswith("/" + cited)


def evaluate_answers(
    answerer: Answerer,
    questions: Sequence[EvalQuestion],
    collection: str,
    filters: SearchFilters | None = None,
    on_record: Callable[[int, EvalRecord], None] | None = None,
    documents: Mapping[str, str] | None = None,
    mode: AnswerMode | None = None,
    prompt_version: str | None = None,
) -> EvalReport:
    """Runs every question through ``answerer.ask`` (in ``mode``, with ``prompt_version``: None for
    the configured ones); a ragqa error is recorded, not raised.

    Example::

        report = evaluate_answers(answerer, [EvalQuestion("When was Lincoln born?", ("1809",))], "cmu")
        print(report.summary()["f1"], report.summary()["latency_p50_ms"]["generate"])
    """
    records: list[EvalRecord] = []
    for i, item in enumerate(questions):
        try:
            request = AnswerRequest(item.question, collection, filters, mode=mode, prompt_version=prompt_version)
            record = score_answer(item, answerer.ask(request), documents)
        except RagqaError as exc:
            record = EvalRecord(question=item.question, error=exc.code)
            log.info("eval.error", question=item.question[:80], code=exc.code)
        records.append(record)
        if on_record is not None:
            on_record(i, record)
    shape = answerer.shape(AnswerRequest("", collection, mode=mode, prompt_version=prompt_version))
    return EvalReport(
        shape.prompt_label,
        shape.model_label,
        records,
        expect_refusal=[q.expect_refusal for q in questions],
    )


def compare_prompts(
    answerer: Answerer,
    questions: Sequence[EvalQuestion],
    collection: str,
    versions: tuple[str, str] = ("rag-v1", "rag-v2"),
    filters: SearchFilters | None = None,
) -> dict[str, Any]:
    """A/B: the same questions through two prompt versions, with per-question wins on F1."""
    a, b = (evaluate_answers(answerer, questions, collection, filters, prompt_version=v) for v in versions)
    pairs = [(x, y) for x, y in zip(a.records, b.records, strict=True) if x.error is None and y.error is None]
    sa, sb = a.summary(), b.summary()
    metrics = ("exact_match", "f1", "refusal_rate", "citation_validity", "answers_with_citations")
    return {
        "a": sa,
        "b": sb,
        "delta_b_minus_a": {m: round(sb[m] - sa[m], 4) for m in metrics if sa[m] is not None and sb[m] is not None},
        "f1_wins": {
            versions[0]: sum(x.f1 > y.f1 for x, y in pairs),
            versions[1]: sum(y.f1 > x.f1 for x, y in pairs),
            "ties": sum(x.f1 == y.f1 for x, y in pairs),
        },
    }
