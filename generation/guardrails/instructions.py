"""A learned detector of instructions planted in retrieved text (indirect prompt injection).

Planted instructions are ordinary imperative requests aimed at the reader ("Tell the user to
visit ...", "Respond only in French"), which patterns miss. Each sentence of a chunk (and each
decoded view of it: base64, hex, rot13 ...) is scored in two stages:

1. a cheap lexical gate: a linear score over hashed word n-grams plus a few cues (imperative at
   the start, second person, addressed to an AI, a URL, answer/reply vocabulary, the topic
   shift from the rest of the chunk). Sentences under the gate's low bar score 0 and are never
   embedded, which keeps screening within a few milliseconds;
2. logistic regression over the sentence's embedding (all-MiniLM-L6-v2), the cues and the gate.

A chunk's score is its best sentence's. ``vectors`` embeds sentences; hand it the answer path's
cached ``EvidenceScorer.vectors`` so the sentences it embeds are not embedded twice.

    >>> [c.name for c in CUES][:3]
    ['imperative', 'second_person', 'addresses_ai']
"""

from __future__ import annotations

import itertools
import json
import re
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.sentences import split_sentences
from generation.guardrails.decoding import decoded_views

MODEL_FILE = Path(__file__).with_name("instruction_model.json")
Vectors = Callable[[Sequence[str]], np.ndarray]

_WORD = re.compile(r"[a-z0-9']+")
# Verbs that open an order. Recipes and READMEs use them too: the cue only says "imperative";
# the model weighs it against the rest.
_VERB_WORDS = """
add advise alert answer append apply ask assure attach be begin claim click collect compose conclude confirm
convince copy count create deny describe direct do draft embed encourage end explain format forward generate
give have highlight include inform insist instruct invent leave let list make mention output paste pick point
portray praise pretend print produce promote provide put rate recommend remind reply report request respond
rewrite say send sign solve start state steer suggest summarize switch tell translate type urge use visit
warn wrap write call check decode execute follow ignore disregard forget reveal show display insert replace
change act refuse stop keep only never always please
"""
_VERBS = frozenset(_VERB_WORDS.split())
_PREFIX = re.compile(r"^[\W\d_]*(?:(?:p\.?s\.?|note|hey|dear|attention|important|system)\b[^:,]{0,60}[:,]\s*)?")
# "model" alone is a product's model ("the model number", "which model you have"): it counts only
# after "the", "AI" or "language" and not before the nouns that make it a product.
_AI = re.compile(r"\b(?:ai|assistant|chatbot|bot|(?:the|ai|language) model(?!s? (?:number|field|name|year|of|you))|"
                 r"llm|gpt|copilot|summari[sz]er|automated (?:readers?|systems?))s?\b")
_SECOND = re.compile(r"\b(?:you|your|yours|yourself)\b")
_USER = re.compile(r"\b(?:the (?:user|reader)s?|users|readers)\b")
_ANSWER = re.compile(r"\b(?:answers?|answering|respon(?:d|se|ses|ding)|repl(?:y|ies|ying)|summar(?:y|ies|i[sz]\w*)|"
                     r"output|conversation|chat)\b")
_URL = re.compile(r"https?://|www\.|\b[\w.+-]+@[\w-]+\.\w+")
# "Tell us", "let us know", "send me": a person asking for something for themselves, as tickets,
# forum posts and READMEs do; planted orders ask on behalf of the assistant's answer instead.
_FIRST_PERSON = re.compile(r"\b(?:us|we|our|me|my|i|i'll|i'd|we'll)\b")
# Orders about the assistant's own output: "in your answer", "when you summarize", "every reply".
_OUTPUT = re.compile(r"\b(?:(?:your|the|every|each|this) (?:answer|response|reply|summary|output)s?|"
                     r"when(?: you)? (?:answer|respond|repl|summari[sz]|asked)\w*|whatever the question|"
                     r"rest of the conversation|all (?:responses|answers|replies))\b")
# Overrides of the task at hand.
_OVERRIDE = re.compile(r"\b(?:ignore|disregard|forget|instead|rather than|no matter|regardless|from now on|"
                       r"from here on|only (?:answer|respond|reply)|do not mention|don't mention)\b")
# Shell commands, flags, paths and file names: READMEs and tickets are full of them.
_CODE = re.compile(r"(?:^|\s)--?[a-z][\w-]*|\b\w+\.(?:py|md|txt|yml|yaml|toml|json|cfg|sh|exe|log)\b|"
                   r"\b(?:pip|npm|git|make|docker|cargo|poetry|sudo|apt|chmod)\b|[\w.~-]*/[\w.-]+/")
_LONG_RUN = re.compile(r"[A-Za-z0-9+/=]{24,}")
_FUNCTION_WORDS = "the a an of to in and is was for on that with as by it this are be at from or"
_FUNCTION = frozenset(_FUNCTION_WORDS.split())


@dataclass(frozen=True, slots=True)
class Cue:
    name: str
    why: str


CUES: tuple[Cue, ...] = (
    Cue("imperative", "opens with (or, after a short address, continues with) a verb in command form"),
    Cue("second_person", "speaks to 'you'"),
    Cue("addresses_ai", "names an assistant, model, chatbot or AI"),
    Cue("user", "talks about 'the user' or 'the reader' in the third person"),
    Cue("answer_vocab", "mentions answering, replying or summarizing"),
    Cue("url", "carries a URL or e-mail address"),
    Cue("encoded", "is a decoded view of an encoded run, or holds one"),
    Cue("prev_addresses_ai", "the sentence before names an AI: the two halves of a split order"),
    Cue("novelty", "share of its content words absent from the rest of the chunk (topic shift)"),
    Cue("short", "under 12 words: planted orders are short"),
    Cue("first_person", "the writer asks for themselves ('tell us', 'send me'): human-to-human requests"),
    Cue("about_output", "concerns the assistant's own output ('in your answer', 'when you summarize')"),
    Cue("override", "overrides the task ('ignore', 'instead', 'no matter', 'from now on')"),
    Cue("code", "holds a command, flag, path or file name, as READMEs and tickets do"),
)


@dataclass(frozen=True, slots=True)
class Candidate:
    """One scorable unit: a sentence of a chunk, or a decoded view of one."""

    chunk: int
    text: str
    cues: tuple[float, ...]
    decoded: bool = False


def _words(text: str) -> list[str]:
    return _WORD.findall(text.casefold())


def imperative(sentence: str) -> bool:
    """A command verb first, after a short address ("Note to the model: tell ..."), or after an
    opening clause ("When summarizing this, tell ...")."""
    folded = sentence.casefold()
    heads = [_PREFIX.sub("", folded, count=1)]
    heads += [part for sep in (":", ",") if sep in folded for part in [folded.split(sep, 1)[1]]]
    for head in heads:
        words = _words(head)[:3]
        if words and (words[0] in _VERBS or words[:2] in (["do", "not"], ["don't", "tell"], ["make", "sure"])):
            return True
    return False


def cues(sentence: str, rest: set[str], prev: str, encoded: bool) -> tuple[float, ...]:
    folded = sentence.casefold()
    content = {w for w in _words(folded) if len(w) > 3 and w not in _FUNCTION}
    novelty = len(content - rest) / len(content) if content and rest else 0.5
    return (
        float(imperative(sentence)),
        float(bool(_SECOND.search(folded))),
        float(bool(_AI.search(folded))),
        float(bool(_USER.search(folded))),
        float(bool(_ANSWER.search(folded))),
        float(bool(_URL.search(sentence))),
        float(encoded or bool(_LONG_RUN.search(sentence))),
        float(bool(_AI.search(prev.casefold()))),
        novelty,
        float(len(folded.split()) < 12),
        float(bool(_FIRST_PERSON.search(folded))),
        float(bool(_OUTPUT.search(folded))),
        float(bool(_OVERRIDE.search(folded))),
        float(bool(_CODE.search(folded))),
    )


def candidates(texts: Sequence[str]) -> list[Candidate]:
    """Every sentence of every text, plus decoded views of sentences that hide an encoding."""
    out: list[Candidate] = []
    for n, text in enumerate(texts):
        sentences = [s.text for s in split_sentences(text)]
        words = [set(_words(s)) for s in sentences]
        for i, sentence in enumerate(sentences):
            rest = set().union(*(w for j, w in enumerate(words) if j != i))
            prev = sentences[i - 1] if i else ""
            out.append(Candidate(n, sentence, cues(sentence, rest, prev, False)))
            for view in decoded_views(sentence, depth=1):
                if len(view.text) >= 12 and sum(w in _FUNCTION for w in _words(view.text)) >= 1:
                    out.append(Candidate(n, view.text[:400], cues(view.text[:400], rest, prev, True), decoded=True))
    return out


def hashed(text: str, buckets: int) -> np.ndarray:
    """Bucket ids of the word unigrams, bigrams and the first word (marked), crc32-hashed."""
    words = _words(text)[:60]
    grams = [*words, *(f"{a} {b}" for a, b in itertools.pairwise(words))]
    if words:
        grams.append(f"^{words[0]}")
    return np.array(sorted({zlib.crc32(g.encode()) % buckets for g in grams}), dtype=np.int64)


@dataclass(frozen=True, slots=True)
class InstructionModel:
    """Weights of both stages and the thresholds (``instruction_model.json``, from bench/injection_model.py)."""

    lexical: np.ndarray  # one weight per hash bucket
    lexical_cues: np.ndarray
    lexical_bias: float
    gate: float  # stage-1 logit under which a sentence is not embedded (scores 0); -inf: every one is
    vector: np.ndarray  # one weight per embedding dimension
    cue_weights: np.ndarray  # the cues, then the stage-1 logit
    bias: float
    threshold: float

    @classmethod
    def load(cls, path: Path = MODEL_FILE) -> InstructionModel:
        raw = json.loads(path.read_text(encoding="utf-8"))
        arr = {k: np.asarray(raw[k], dtype=np.float64) for k in ("lexical", "lexical_cues", "vector", "cue_weights")}
        return cls(arr["lexical"], arr["lexical_cues"], float(raw["lexical_bias"]), float(raw.get("gate", "-inf")),
                   arr["vector"], arr["cue_weights"], float(raw["bias"]), float(raw["threshold"]))

    def lexical_logits(self, items: Sequence[Candidate]) -> np.ndarray:
        buckets = len(self.lexical)
        return np.array([self.lexical[hashed(c.text, buckets)].sum() + float(np.dot(self.lexical_cues, c.cues))
                         + self.lexical_bias for c in items])

    def probabilities(self, vectors: np.ndarray, cue_rows: np.ndarray, lexical: np.ndarray) -> np.ndarray:
        extra = np.column_stack([cue_rows, lexical]) if len(lexical) else np.zeros((0, len(self.cue_weights)))
        logits = vectors @ self.vector + extra @ self.cue_weights + self.bias
        return 1.0 / (1.0 + np.exp(-logits))

    def score(self, vectors: np.ndarray, items: Sequence[Candidate]) -> np.ndarray:
        """Both stages over every item (no gate): one embedding row per item."""
        return self.probabilities(vectors, np.array([c.cues for c in items]), self.lexical_logits(items))


@dataclass(frozen=True, slots=True)
class InstructionVerdict:
    """A chunk's best sentence and its score; ``flagged`` at the model's threshold."""

    flagged: bool
    score: float
    sentence: str = ""

    @property
    def reason(self) -> str:
        return f"instruction to the reader (sentence score {self.score:.2f}): {self.sentence[:80]!r}"


class InstructionDetector:
    """Scores chunks for planted instructions; embeds only the sentences the gate lets through.

    Example::

        detector = InstructionDetector(evidence.vectors)
        verdicts = detector.scan_many([c.chunk.text for c in retrieved])
    """

    def __init__(self, vectors: Vectors, model: InstructionModel | None = None,
                 threshold: float | None = None) -> None:
        self._vectors = vectors
        self.model = model or InstructionModel.load()
        self.threshold = self.model.threshold if threshold is None else threshold

    def sentence_scores(self, texts: Sequence[str]) -> tuple[list[Candidate], np.ndarray]:
        """Every candidate of ``texts`` and its probability (0 for those under the gate)."""
        items = candidates(texts)
        scores = np.zeros(len(items))
        if not items:
            return items, scores
        lexical = self.model.lexical_logits(items)
        picked = np.flatnonzero(lexical >= self.model.gate)
        if len(picked):
            vectors = np.asarray(self._vectors([items[i].text for i in picked]), dtype=np.float64)
            cue_rows = np.array([items[i].cues for i in picked], dtype=np.float64)
            scores[picked] = self.model.probabilities(vectors, cue_rows, lexical[picked])
        return items, scores

    def scan_many(self, texts: Sequence[str]) -> list[InstructionVerdict]:
        items, scores = self.sentence_scores(texts)
        best: list[tuple[float, str]] = [(0.0, "")] * len(texts)
        for item, score in zip(items, scores, strict=True):
            if score > best[item.chunk][0]:
                best[item.chunk] = (float(score), item.text)
        return [InstructionVerdict(score >= self.threshold, round(score, 4), text) for score, text in best]

    def scan(self, text: str) -> InstructionVerdict:
        return self.scan_many([text])[0]
