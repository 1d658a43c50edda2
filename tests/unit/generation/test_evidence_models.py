"""Evidence models a request may name: read from a folder once, by file name, checked at start (names,
versions, the configured one); a request's choice scores its sentences and names its answer, and a
request's fusion reaches the retriever, while a request choosing neither runs as before."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from core.answer_request import AnswerRequest
from core.answer_settings import AnswerSettings
from core.errors import ConfigurationError, InvalidRequest
from core.types import ScoredChunk
from generation.evidence import FEATURES, MODEL_FILE, EvidenceModel, EvidenceScorer
from generation.evidence_models import EvidenceModels
from generation.policy import AnswerPolicy
from retrieval.sparse import Bm25SparseEncoder
from tests.support.answerers import assemble_answerer
from tests.support.fakes import FakeChatModel, FakeEmbedder, FakeRetriever, make_chunk

SHIPPED = EvidenceModel.load()


def write_model(folder: Path, name: str, version: str, cosine_sign: float = -1.0) -> Path:
    """The shipped model with its cosine weight scaled by ``cosine_sign``, under another version."""
    data = json.loads(MODEL_FILE.read_text())
    data["weights"]["cosine"] *= cosine_sign
    data["version"] = version
    path = folder / f"{name}.json"
    path.write_text(json.dumps(data))
    return path


def test_a_folder_of_models_is_read_by_file_name_beside_the_shipped_one(tmp_path: Path) -> None:
    write_model(tmp_path, "negated-cosine", "evidence-negcos")
    models = EvidenceModels.from_settings(AnswerSettings(evidence_models_dir=tmp_path))
    assert models.names() == ["default", "negated-cosine"]
    assert models.default == SHIPPED and models.choose(None) is None and models.choose("default") is None
    chosen = models.choose("negated-cosine")
    assert chosen is not None and chosen.version == "evidence-negcos"
    assert chosen.weights[FEATURES.index("cosine")] == -SHIPPED.weights[FEATURES.index("cosine")]
    with pytest.raises(InvalidRequest, match="unknown evidence model 'other': there are default, negated-cosine"):
        models.choose("other")
    # Configured as the default: requests naming none get it; naming the shipped one is a choice.
    configured = EvidenceModels.from_settings(AnswerSettings(evidence_models_dir=tmp_path,
                                                             evidence_model="negated-cosine"))
    assert configured.default.version == "evidence-negcos" and configured.choose("negated-cosine") is None
    assert configured.choose("default") == SHIPPED
    assert EvidenceModels.from_settings(AnswerSettings()).names() == ["default"]


def test_a_folder_that_cannot_serve_is_refused_at_start(tmp_path: Path) -> None:
    write_model(tmp_path, "a", "v-same")
    write_model(tmp_path, "b", "v-same")
    with pytest.raises(ConfigurationError, match="share the version 'v-same'"):
        EvidenceModels.from_settings(AnswerSettings(evidence_models_dir=tmp_path))
    (tmp_path / "b.json").unlink()
    with pytest.raises(ConfigurationError, match="no such evidence model"):
        EvidenceModels.from_settings(AnswerSettings(evidence_models_dir=tmp_path, evidence_model="b"))
    write_model(tmp_path, "default", "v-mine")
    with pytest.raises(ConfigurationError, match="not 'default'"):
        EvidenceModels.from_settings(AnswerSettings(evidence_models_dir=tmp_path))
    (tmp_path / "default.json").write_text('{"weights": {}}')
    with pytest.raises(ConfigurationError, match="cannot read the evidence model"):
        EvidenceModel.load(tmp_path / "default.json")
    with pytest.raises(ConfigurationError, match="not a folder"):
        EvidenceModels.from_settings(AnswerSettings(evidence_models_dir=tmp_path / "missing"))


class UnitEmbedder(FakeEmbedder):
    """Unit vectors that turn with a text's length: texts of like length are close (cosines in 0..1)."""

    def embed_documents(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        rows = np.array([[1.0, len(t) / 50, 0, 0] for t in texts], dtype=np.float32).reshape(len(texts), 4)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True) if len(texts) else rows


def lincoln() -> list[ScoredChunk]:
    return [make_chunk(1, "Lincoln was born in 1809. He grew up in Kentucky and Indiana as a boy on a farm."),
            make_chunk(2, "He was the sixteenth president.")]


def cosine_only(sign: float, version: str) -> EvidenceModel:
    return EvidenceModel(tuple(20.0 * sign * (name == "cosine") for name in FEATURES), 0.0, version)


def test_a_requests_evidence_model_ranks_its_sentences_and_names_its_answer() -> None:
    closest, farthest = cosine_only(1, "closest"), cosine_only(-1, "farthest")
    scorer = EvidenceScorer(UnitEmbedder(), Bm25SparseEncoder(), closest)
    question = "Where did Lincoln grow up?"
    ranked, flipped = scorer.rank(question, lincoln()), scorer.rank(question, lincoln(), farthest)
    assert [e.text for e in ranked] == [e.text for e in reversed(flipped)]  # the cosine counts against, not for
    assert [e.text for e in scorer.rank(question, lincoln())] == [e.text for e in ranked]  # the scorer's own again

    retriever = FakeRetriever(lincoln())
    answerer = assemble_answerer(retriever, FakeChatModel(), evidence=scorer, policy=AnswerPolicy(mode="extractive"),
                                 evidence_models=EvidenceModels({"default": closest, "far": farthest}))
    request = AnswerRequest(question, "docs")
    plain, other = answerer.ask(request), answerer.ask(replace(request, evidence_model="far"))
    assert (plain.model, other.model) == ("extractive:closest", "extractive:farthest")
    assert plain.text != other.text
    answerer.ask(replace(request, fusion="sparse"))
    assert retriever.modes == [None, None, "sparse"]  # a request's fusion reaches the retriever; none: None
