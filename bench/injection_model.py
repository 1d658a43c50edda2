"""Trains the planted-instruction detector (generation/guardrails/instruction_model.json).

    HF_HUB_OFFLINE=1 .venv/bin/python -m bench.injection_model          # fit and write the model
    HF_HUB_OFFLINE=1 .venv/bin/python -m bench.injection_model --cv     # also leave one kind / carrier out

Data: the dev splits of bench/data/injection (templates written here) and bench/data/injection-fresh
(written blind, issue #34); the held-out splits are for bench/guardrails.py. A sentence is positive
when it overlaps the planted instruction; every other sentence (benign documents and the carrier
around a planted order) is negative. The fitting parts are in ``bench/injection_fit.py``, the bars
and the cross-validation in ``bench/injection_cv.py``.

The gate's bar keeps ``GATE_RECALL`` of the positive sentences (out of fold); the threshold is the
lowest that meets every false-positive bar on out-of-fold document scores (5 folds grouped as the
held-out split is cut). With ``--cv`` the same model is also fit leaving one attack kind out and
leaving one carrier out, each at the threshold its own out-of-fold scores give at the same bars,
and the recall per kind / carrier (the worst one first) goes to bench/results/injection_model.json.

Sentence vectors (the first ``LAYERS`` layers of the packaged int8 MiniLM) are cached in
``$TMPDIR/ragqa-injection-vectors-<embedder>.npz`` (keyed by the encoder and the int8 recipe), so
a retrain after a data change embeds only the new sentences.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import numpy as np

from bench.common import ROOT, write_results
from bench.injection_cv import cross_validate, fit, fold_ids, pick_threshold, records, report
from bench.injection_fit import (
    BUCKETS,
    BY_CUE,
    FOLDS,
    GATE_RECALL,
    IGNORED,
    LAYERS,
    cached_vectors,
    chunk_scores,
    fit_lexical,
    fit_newton,
    labelled_candidates,
    lexical_logits,
    load,
)
from generation.guardrails.detector import InjectionDetector
from generation.guardrails.instruction_cues import CUES
from generation.guardrails.instructions import MODEL_FILE
from generation.guardrails.patterns import CONTEXT_WEIGHTS

# bench/direct_model.py and bench/planted.py take these from here.
__all__ = ["FOLDS", "fit_lexical", "fit_newton", "labelled_candidates", "lexical_logits", "load"]


def rounded(values: np.ndarray) -> list[float]:
    return [round(float(x), 4) for x in values]


def print_report(name: str, found: dict[str, Any]) -> None:
    worst = {field: min(found[f"recall_by_{field}"].items(), key=lambda kv: kv[1] or 0.0)
             for field in ("kind", "carrier")}  # fmt: skip
    print(f"{name}: threshold {found['threshold']}, fresh dev recall {found['recall']} "
          f"(worst kind {worst['kind']}, worst carrier {worst['carrier']})")
    print(f"    by language {found['recall_by_language']}")
    print(f"    FPR by bar group {found['fpr_by_bar_group']}")
    print(f"    fresh FPR by carrier {found['fresh_fpr_by_carrier']}")


def main() -> None:
    from ingest.onnx_embedding import OnnxEmbedder
    from ingest.onnx_quantize import RECIPE

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cv", action="store_true", help="also leave one attack kind / one carrier out")
    args = parser.parse_args()

    rows = records("dev")
    items, y, owner = labelled_candidates(rows)
    print(f"dev: {len(rows)} documents, {len(items)} candidates, {int((y == 1).sum())} positive sentences")
    embedder = OnnxEmbedder.first_layers(LAYERS)
    embed = cached_vectors(embedder.embed_documents, f"{embedder.identity}:{RECIPE}")
    vectors = np.asarray(embed([c.text for c in items]), dtype=np.float64)
    patterns = InjectionDetector(weights=CONTEXT_WEIGHTS)
    by_patterns = [r["origin"] == "fresh" and patterns.scan(r["text"]).flagged for r in rows]

    results: dict[str, Any] = {}
    for scheme in ("grouped", "kind", "carrier") if args.cv else ("grouped",):
        folds = fold_ids(rows, items, y, owner, scheme)
        scores = cross_validate(items, y, vectors, folds, progress=lambda line, name=scheme: print(f"  {name} {line}"))
        threshold, need = pick_threshold(chunk_scores(scores, owner, len(rows)), rows)
        found = report(rows, scores, owner, y, threshold, by_patterns)
        found["threshold_needed_by"] = {k: round(v, 4) for k, v in need.items()}
        results[scheme] = found
        print_report(scheme, found)
    threshold = results["grouped"]["threshold"]

    known = np.flatnonzero(y != IGNORED)
    (lexical, gate, weights), _ = fit(items, y, vectors, known)
    dim = vectors.shape[1]
    model = {
        "about": "planted-instruction detector; trained by bench/injection_model.py on both sets' dev splits",
        "embedder": embedder.identity, "layers": LAYERS, "buckets": BUCKETS, "gate_recall": GATE_RECALL,
        "cues": [c.name for c in CUES],
        "lexical": rounded(lexical[0]), "lexical_cues": rounded(lexical[1]),
        "lexical_bias": round(lexical[2], 4), "gate": round(gate, 4),
        "vector": rounded(weights[:dim]), "vector_by_cue": rounded(weights[dim : 2 * dim]), "by_cue": BY_CUE,
        "cue_weights": rounded(weights[2 * dim : -1]), "bias": round(float(weights[-1]), 4),
        "threshold": round(threshold, 4),
    }  # fmt: skip
    MODEL_FILE.write_text(json.dumps(model, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {MODEL_FILE.relative_to(ROOT)} (gate {gate:.3f}, threshold {threshold:.3f})")
    if args.cv:
        path = write_results("injection_model", {"inputs": {"documents": len(rows), "candidates": len(items)},
                                                 "model": {"gate": round(gate, 4), "threshold": threshold},
                                                 "cross_validation": results})  # fmt: skip
        print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
