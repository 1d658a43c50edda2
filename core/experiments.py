"""Experiments on live traffic: a named split of questions between arms, each arm a few answer settings.

An arm is what a request could already ask for itself (``core.answer_request.AnswerRequest``: the
prompt version, the answer mode, the passage count, the retrieval fusion, the evidence model, a
generation option), set for it by the experiment. Each value is checked by the settings section that
owns the setting (``LLMSettings``, ``AnswerSettings``, ``RetrievalSettings``: ``fusion`` is
``retrieval.mode``), so an arm can say nothing a setting could not.

Assignment is a pure function of the experiment's name and the subject (a user, a conversation):
``sha256(name, subject)`` read as a number in [0, 1) and compared with the arms' cumulative shares.
Every API process agrees without asking anyone, and a subject keeps its arm for the experiment's life.

    >>> exp = Experiment("prompts", (parse_arm("a:prompt_version=rag-v1:50"), parse_arm("b:prompt_version=rag-v2:50")))
    >>> exp.assign("user:ana") == exp.assign("user:ana")
    True
    >>> request = exp.arm("b").apply(AnswerRequest("Who?", "docs"), exp.name)
    >>> request.prompt_version, request.arm
    ('rag-v2', 'prompts/b')
    >>> exp.arm("a").overrides
    {'prompt_version': 'rag-v1'}
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import ValidationError

from core.answer_request import AnswerRequest
from core.answer_settings import AnswerSettings
from core.errors import InvalidRequest
from core.protocols import GenerationOptions
from core.section import Section
from core.settings import LLMSettings, RetrievalSettings

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
NAME_RULE = "1-64 letters, digits, '.', '_' and '-', starting with a letter or digit"

# What an arm may set: the request field, and the settings section and field whose rules its value obeys.
# Request fields first (prompt version, mode, passage count, fusion, evidence model), then generation options.
OVERRIDES: dict[str, tuple[type[Section], str]] = {
    "prompt_version": (LLMSettings, "prompt_version"),
    "mode": (AnswerSettings, "mode"),
    "top_k": (RetrievalSettings, "top_k"),
    "fusion": (RetrievalSettings, "mode"),
    "evidence_model": (AnswerSettings, "evidence_model"),
    "temperature": (LLMSettings, "temperature"),
    "max_tokens": (LLMSettings, "max_tokens"),
}
_REQUEST_FIELDS = ("prompt_version", "mode", "top_k", "fusion", "evidence_model")
_OPTION_FIELDS = ("temperature", "max_tokens")


def check_name(name: str, what: str) -> str:
    if not NAME.fullmatch(name):
        raise InvalidRequest(f"{what} {name!r}: {NAME_RULE}")
    return name


def checked_value(setting: str, raw: Any) -> Any:
    """``raw`` as the setting's own section reads it (a string from the command line is parsed)."""
    if setting not in OVERRIDES:
        raise InvalidRequest(f"an arm cannot set {setting!r}: it may set {', '.join(OVERRIDES)}")
    section, name = OVERRIDES[setting]
    try:
        value = getattr(section.model_validate({name: raw}), name)
    except ValidationError as exc:
        problem = exc.errors()[0].get("msg", "invalid") if exc.errors() else "invalid"
        raise InvalidRequest(f"{setting}={raw!r}: {problem}") from None
    if value is None:
        raise InvalidRequest(f"{setting}: give a value")
    return value


@dataclass(frozen=True, slots=True)
class Arm:
    """One variant: its name, its share of the traffic (percent) and the settings it sets."""

    name: str
    share: float
    overrides: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_name(self.name, "arm name")
        if not 0 < self.share <= 100:
            raise InvalidRequest(f"arm {self.name!r}: its share must be over 0 and at most 100, not {self.share:g}")
        object.__setattr__(self, "overrides", {k: checked_value(k, v) for k, v in self.overrides.items()})

    def sets_what(self, request: AnswerRequest) -> list[str]:
        """The settings this arm varies that ``request`` already sets itself (it then stays out)."""
        options = request.options or GenerationOptions()
        return [k for k in self.overrides
                if (getattr(request, k) if k in _REQUEST_FIELDS else getattr(options, k)) is not None]

    def apply(self, request: AnswerRequest, experiment: str) -> AnswerRequest:
        """``request`` with this arm's settings, labelled with the arm (the cache keys on the label)."""
        fields: dict[str, Any] = {k: v for k, v in self.overrides.items() if k in _REQUEST_FIELDS}
        options = {k: v for k, v in self.overrides.items() if k in _OPTION_FIELDS}
        if options:
            fields["options"] = replace(request.options or GenerationOptions(), **options)
        return replace(request, **fields, arm=f"{experiment}/{self.name}")

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "share": self.share, "overrides": dict(self.overrides)}


def parse_arm(spec: str) -> Arm:
    """``NAME:SETTING=VALUE[,SETTING=VALUE...]:SHARE`` (``NAME::SHARE``: an arm that sets nothing).

        >>> parse_arm("b:prompt_version=rag-v2,top_k=3:25").overrides
        {'prompt_version': 'rag-v2', 'top_k': 3}
        >>> parse_arm("control::50").overrides
        {}
    """
    name, sep, rest = spec.partition(":")
    settings, sep2, share = rest.rpartition(":")
    if not sep or not sep2:
        raise InvalidRequest(f"arm {spec!r}: write NAME:SETTING=VALUE[,SETTING=VALUE]:SHARE, e.g. "
                             "b:prompt_version=rag-v2:50")  # fmt: skip
    overrides: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in settings.split(","))):
        key, eq, value = pair.partition("=")
        if not eq or not key.strip():
            raise InvalidRequest(f"arm {name!r}: {pair!r} is not SETTING=VALUE")
        if key.strip() in overrides:
            raise InvalidRequest(f"arm {name!r} sets {key.strip()!r} twice")
        overrides[key.strip()] = value.strip()
    try:
        percent = float(share)
    except ValueError:
        raise InvalidRequest(f"arm {name!r}: its share {share!r} is not a number (percent of the traffic)") from None
    return Arm(name, percent, overrides)


def position(experiment: str, subject: str) -> float:
    """Where ``subject`` falls in [0, 1) for ``experiment``: the first 8 bytes of a SHA-256, as a fraction.

        >>> 0 <= position("prompts", "user:ana") < 1
        True
    """
    digest = hashlib.sha256(f"{experiment}\x00{subject}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass(frozen=True, slots=True)
class Experiment:
    """A named split: the arms, in order, with shares summing to 100; ``collection`` None: every one."""

    name: str
    arms: tuple[Arm, ...]
    collection: str | None = None
    created: float = field(default_factory=time.time)
    stopped: float | None = None

    def __post_init__(self) -> None:
        check_name(self.name, "experiment name")
        names = [a.name for a in self.arms]
        if len(self.arms) < 2:
            raise InvalidRequest(f"experiment {self.name!r} needs at least two arms (--arm)")
        if len(set(names)) != len(names):
            raise InvalidRequest(f"experiment {self.name!r}: arm names must differ ({', '.join(names)})")
        total = sum(a.share for a in self.arms)
        if abs(total - 100) > 1e-6:
            raise InvalidRequest(f"experiment {self.name!r}: the arms' shares add up to {total:g}, not 100")

    @property
    def running(self) -> bool:
        return self.stopped is None

    def covers(self, collection: str) -> bool:
        return self.collection is None or self.collection == collection

    def overlaps(self, other: Experiment) -> bool:
        """Both could take the same question (a question is in one experiment at most)."""
        return self.collection is None or other.collection is None or self.collection == other.collection

    def arm(self, name: str) -> Arm:
        for arm in self.arms:
            if arm.name == name:
                return arm
        raise InvalidRequest(f"experiment {self.name!r} has no arm {name!r}")

    def assign(self, subject: str) -> Arm:
        """The subject's arm: the first whose cumulative share passes the subject's position."""
        point, reached = position(self.name, subject), 0.0
        for arm in self.arms:
            reached += arm.share / 100
            if point < reached:
                return arm
        return self.arms[-1]  # rounding in the last share

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "arms": [a.to_dict() for a in self.arms], "collection": self.collection,
                "created": self.created, "stopped": self.stopped}  # fmt: skip

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Experiment:
        arms = tuple(Arm(a["name"], float(a["share"]), a.get("overrides") or {}) for a in data["arms"])
        return cls(data["name"], arms, data.get("collection"), float(data["created"]),
                   float(data["stopped"]) if data.get("stopped") is not None else None)


@dataclass(frozen=True, slots=True)
class Assignment:
    """The experiment and arm an answer was made in (its ``experiment`` field in the API's answers)."""

    experiment: str
    arm: str

    def to_dict(self) -> dict[str, str]:
        return {"name": self.experiment, "arm": self.arm}
