"""The evidence models a request may name: the shipped one, ``default``, and those of a folder.

A further model is a JSON file in ``answer.evidence_models_dir`` in the shipped model's format, named
by its file name without ``.json``. Every one is read once, when the server starts, and kept by name;
a request (or an experiment's arm) naming one has its sentences scored by it
(``EvidenceScorer.rank(..., model=...)``), with the scorer's caches shared, since they hold no scores.
Versions are unique: an answer's ``model`` (``extractive:<version>``) names the model that chose its
sentences, and the answer cache keys on it.

    models = EvidenceModels.from_settings(settings.answer)
    models.names()                # ['default', 'negated-cosine']
    models.choose("default")      # None: the configured model, as if the request had named none
    models.choose("negated-cosine").version
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from core.answer_request import EVIDENCE_MODEL_NAME
from core.answer_settings import AnswerSettings
from core.errors import ConfigurationError, InvalidRequest
from generation.evidence import EvidenceModel

SHIPPED = "default"
MAX_MODELS = 64  # each is a few hundred bytes, read at start: a folder holding more is a mistake


class EvidenceModels:
    """Evidence models by name, one of them the configured one (what requests naming none get)."""

    def __init__(self, models: Mapping[str, EvidenceModel], configured: str = SHIPPED) -> None:
        if configured not in models:
            raise ConfigurationError(f"answer.evidence_model={configured!r}: no such evidence model "
                                     f"(there are {', '.join(sorted(models))})")  # fmt: skip
        by_version: dict[str, str] = {}
        for name, model in models.items():
            if model.version in by_version:
                raise ConfigurationError(f"evidence models {by_version[model.version]!r} and {name!r} share the "
                                         f"version {model.version!r}: an answer's model would not tell them apart")
            by_version[model.version] = name
        self._models = MappingProxyType(dict(models))
        self.configured = configured
        self.default = models[configured]

    @classmethod
    def only(cls, model: EvidenceModel) -> EvidenceModels:
        """Just ``model``, under the shipped model's name (a scorer built by hand)."""
        return cls({SHIPPED: model})

    @classmethod
    def from_settings(cls, settings: AnswerSettings) -> EvidenceModels:
        models = {SHIPPED: EvidenceModel.load()}
        if settings.evidence_models_dir is not None:
            models.update(load_folder(settings.evidence_models_dir))
        return cls(models, settings.evidence_model or SHIPPED)

    def names(self) -> list[str]:
        return sorted(self._models)

    def choose(self, name: str | None) -> EvidenceModel | None:
        """The model ``name`` names; None when it is the configured one (or no name): the scorer's own."""
        if name is None or name == self.configured:
            return None
        model = self._models.get(name)
        if model is None:
            raise InvalidRequest(f"unknown evidence model {name!r}: there are {', '.join(self.names())}")
        return None if model is self.default else model


def load_folder(folder: Path) -> dict[str, EvidenceModel]:
    """Every ``NAME.json`` in ``folder`` as a model, by ``NAME``."""
    if not folder.is_dir():
        raise ConfigurationError(f"answer.evidence_models_dir: {folder} is not a folder")
    try:
        files = sorted(folder.glob("*.json"))
    except OSError as exc:
        raise ConfigurationError(f"answer.evidence_models_dir: cannot read {folder}: {exc}") from exc
    if len(files) > MAX_MODELS:
        raise ConfigurationError(f"answer.evidence_models_dir: {len(files)} models in {folder}, over {MAX_MODELS}")
    models: dict[str, EvidenceModel] = {}
    for path in files:
        if path.stem == SHIPPED or not EVIDENCE_MODEL_NAME.fullmatch(path.stem):
            raise ConfigurationError(f"evidence model {path}: its name must be 1-64 letters, digits, '.', '_' and "
                                     f"'-', starting with a letter or digit, and not {SHIPPED!r} (the shipped one)")
        models[path.stem] = EvidenceModel.load(path)
    return models

