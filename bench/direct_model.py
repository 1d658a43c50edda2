"""Trains the direct-injection detector (generation/guardrails/direct_model.json).

    HF_HUB_OFFLINE=1 .venv/bin/python -m bench.direct_model

Data, dev only: the dev attacks and ordinary questions of bench/data/injection/direct.jsonl and
direct_more.jsonl, the
cmu-qa-dev questions about article sets 1-2 (sets 3-4 are held out for bench/guardrails.py), and
every question (and earlier user turn) of the multi-genre answer sets (bench/data/answers-multigenre):
imperatives, bare keywords and follow-ups are requests, not attacks. Out-of-fold folds keep each
genre whole, and ``--leave-one-genre-out`` reports each genre's false rejections with a model
trained without it (nothing is written then).
Same two stages as bench/injection_model.py (hashed n-grams + cues, then embedding + cues + the
out-of-fold lexical logit). The threshold is chosen on out-of-fold scores (5 folds, attacks
grouped by template family) to keep dev FPR under ``FPR_BAR`` with margin.

``direct_injections`` is the held-out evaluation bench/guardrails.py reports.
"""

from __future__ import annotations

import json
import statistics
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import ROOT
from bench.injection_model import FOLDS, fit_lexical, fit_newton, lexical_logits
from generation.guardrails.direct import DIRECT_MODEL_FILE, DirectInjectionDetector, direct_candidates
from generation.guardrails.instruction_cues import Candidate
from generation.guardrails.instructions import Vectors

DATA = ROOT / "bench" / "data" / "injection" / "direct.jsonl"
MULTIGENRE = ROOT / "bench" / "data" / "answers-multigenre"
# More dev rows, written blind for the detector: attacks of every kind (fake system notes, claims of
# authority, twelve languages, encodings) and ordinary requests that share their words.
MORE = ROOT / "bench" / "data" / "injection" / "direct_more.jsonl"
QA = ROOT.parent / "shared" / "data" / "cmu-qa-dev" / "qa.tsv"
FPR_BAR = 0.005  # the bar is <= 1% on ordinary questions; half of it on dev for margin


def cmu_questions(split: str, path: Path = QA) -> list[str]:
    """Unique cmu-qa-dev questions; sets 1-2 are dev, 3-4 held out."""
    sets = ("set1", "set2") if split == "dev" else ("set3", "set4")
    seen: dict[str, None] = {}
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    header = lines[0].split("\t")
    q, f = header.index("Question"), header.index("ArticleFile")
    for line in lines[1:]:
        row = line.split("\t")
        if len(row) == len(header) and row[q].strip() and row[f].split("/")[1] in sets:
            seen.setdefault(row[q].strip(), None)
    return list(seen)


def genre_questions(skip: str = "") -> dict[str, list[str]]:
    """Each multi-genre set's questions and earlier user turns (what the input guard screens)."""
    from generation.devsets import load_genres

    out: dict[str, list[str]] = {}
    for genre in load_genres(MULTIGENRE):
        if genre.genre != skip:
            texts = [q.question for q in genre.questions]
            texts += [t.content for q in genre.questions for t in q.history if t.role == "user"]
            out[genre.genre] = list(dict.fromkeys(texts))
    return out


def dataset(split: str, skip_genre: str = "") -> tuple[list[str], np.ndarray, list[str]]:
    """Texts, labels and fold keys (attack family, a genre, or the text itself) of one split."""
    rows = [json.loads(line) for path in (DATA, MORE) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]
    rows = [r for r in rows if r["split"] == split]
    texts = [r["text"] for r in rows] + cmu_questions(split)
    keys = [r["family"] if r["label"] else r["text"] for r in rows] + texts[len(rows):]
    if split == "dev":
        for genre, questions in genre_questions(skip_genre).items():
            texts += questions
            keys += [f"genre:{genre}"] * len(questions)
    labels = np.array([r["label"] for r in rows] + [0] * (len(texts) - len(rows)))
    return texts, labels, keys


def expand(texts: list[str]) -> tuple[list[Candidate], np.ndarray]:
    items: list[Candidate] = []
    owner: list[int] = []
    for n, text in enumerate(texts):
        views = direct_candidates(text)
        items += views
        owner += [n] * len(views)
    return items, np.array(owner)


def direct_injections(vectors: Vectors) -> dict[str, Any]:
    """Our direct-injection set (held-out templates) and ordinary questions: the input guard's
    patterns, the learned head (generation/guardrails/direct.py) and both, as InputGuard runs them."""
    from bench.guardrails import by_group, rate
    from generation.guardrails.detector import InjectionDetector
    from generation.guardrails.patterns import INPUT_WEIGHTS

    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [r for r in rows if r["split"] == "heldout"]
    cmu = cmu_questions("heldout")
    texts = [r["text"] for r in rows] + cmu
    kinds = [r["kind"] for r in rows] + ["cmu_question"] * len(cmu)
    attack = [bool(r["label"]) for r in rows] + [False] * len(cmu)
    learned, patterns = DirectInjectionDetector(vectors), InjectionDetector(weights=INPUT_WEIGHTS)
    flags = {"patterns": [patterns.scan(t).flagged for t in texts], "learned": [learned.scan(t).flagged for t in texts]}
    flags["input_guard"] = [a or b for a, b in zip(flags["patterns"], flags["learned"], strict=True)]
    out: dict[str, Any] = {"attacks": sum(attack), "ordinary_own": sum(not r["label"] for r in rows),
                           "cmu_questions_sets_3_4": len(cmu), "threshold": learned.threshold, "guards": {}}
    for name, f in flags.items():
        hits = [x for x, a in zip(f, attack, strict=True) if a]
        benign = [(x, k) for x, a, k in zip(f, attack, kinds, strict=True) if not a]
        out["guards"][name] = {
            "recall": rate(hits), "fpr_all_ordinary": rate([x for x, _ in benign]),
            "fpr_own_ordinary": rate([x for x, k in benign if k == "ordinary"]),
            "fpr_cmu_questions": rate([x for x, k in benign if k == "cmu_question"]),
            "recall_by_kind": by_group(hits, [k for k, a in zip(kinds, attack, strict=True) if a]),
            "flagged_ordinary": [t for t, x, a in zip(texts, f, attack, strict=True) if x and not a],
        }  # fmt: skip
    # Latency per question, patterns vs patterns + the learned head (one embedding), p50.
    timings = {}
    for name, scan in (("patterns", patterns.scan), ("with_learned", lambda t: (patterns.scan(t), learned.scan(t)))):
        spent = []
        for question in cmu[:100]:
            started = time.perf_counter()
            scan(question)
            spent.append((time.perf_counter() - started) * 1000)
        timings[name] = round(statistics.median(spent), 2)
    out["latency_ms_p50_per_question"] = timings
    return out


def main() -> None:
    import sys

    if "--leave-one-genre-out" in sys.argv:
        leave_one_genre_out()
        return
    model = train(*dataset("dev"))
    DIRECT_MODEL_FILE.write_text(json.dumps(model, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {DIRECT_MODEL_FILE.relative_to(ROOT)}")


def leave_one_genre_out() -> None:
    """Each genre's questions screened by a model trained without them, beside held-out attacks."""
    import tempfile

    from core.settings import EmbeddingSettings
    from generation.guardrails.instructions import InstructionModel
    from ingest.embedders import embedder_from_settings

    embedder = embedder_from_settings(EmbeddingSettings())
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    attacks = [r["text"] for r in rows if r["split"] == "heldout" and r["label"]]
    results: dict[str, Any] = {}
    for genre, questions in genre_questions().items():
        model = train(*dataset("dev", skip_genre=genre))
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
            json.dump(model, handle)
        detector = DirectInjectionDetector(embedder.embed_documents, InstructionModel.load(Path(handle.name)))
        flagged = [q for q in questions if detector.scan(q).flagged]
        recall = sum(detector.scan(a).flagged for a in attacks) / len(attacks)
        results[genre] = {"questions": len(questions), "rejected": len(flagged), "examples": flagged[:5],
                          "heldout_attack_recall_learned": round(recall, 3)}
        print(genre, results[genre])
    from bench.common import write_results

    write_results("direct_model_logo", {"leave_one_genre_out": results})


def train(texts: list[str], y_text: np.ndarray, keys: list[str]) -> dict[str, Any]:
    from core.settings import EmbeddingSettings
    from ingest.embedders import embedder_from_settings

    items, owner = expand(texts)
    y = y_text[owner]
    fold = np.array([zlib.crc32(k.encode()) % FOLDS for k in keys])[owner]
    print(f"dev: {len(texts)} texts ({int(y_text.sum())} attacks), {len(items)} candidates")

    oof_lex = np.zeros(len(items))
    for k in range(FOLDS):
        train = fold != k
        fit = fit_lexical([items[i] for i in np.flatnonzero(train)], y[train])
        oof_lex[~train] = lexical_logits([items[i] for i in np.flatnonzero(~train)], fit)
    embedder = embedder_from_settings(EmbeddingSettings())
    vectors = np.asarray(embedder.embed_documents([c.text for c in items]), dtype=np.float64)
    features = np.column_stack([vectors, np.array([c.cues for c in items]), oof_lex])

    oof = np.zeros(len(items))
    for k in range(FOLDS):
        w = fit_newton(features[fold != k], y[fold != k])
        oof[fold == k] = 1 / (1 + np.exp(-(features[fold == k] @ w[:-1] + w[-1])))
    best = np.zeros(len(texts))
    np.maximum.at(best, owner, oof)
    benign = np.sort(best[y_text == 0])[::-1]
    allowed = int(np.floor(FPR_BAR * len(benign)))
    threshold = float(min(max(benign[allowed] + 1e-4, 0.5), 0.99))
    flagged = best >= threshold
    print(f"threshold {threshold:.3f}: out-of-fold dev recall {flagged[y_text == 1].mean():.3f}, "
          f"FPR {flagged[y_text == 0].mean():.4f}")

    final_lex = fit_lexical(items, y)
    w = fit_newton(features, y)
    dim = embedder.dimension
    return {
        "about": "direct-injection detector; trained by bench/direct_model.py on the dev split",
        "lexical": [round(float(x), 4) for x in final_lex[0]],
        "lexical_cues": [round(float(x), 4) for x in final_lex[1]], "lexical_bias": round(final_lex[2], 4),
        "vector": [round(float(x), 4) for x in w[:dim]], "cue_weights": [round(float(x), 4) for x in w[dim:-1]],
        "bias": round(float(w[-1]), 4), "threshold": round(threshold, 4),
    }  # fmt: skip


if __name__ == "__main__":
    main()
