"""docker-compose.yml as data, for tests that cannot run Compose (no Compose v2 binary installs here):
the file parsed (anchors and ``<<`` merges resolved by the YAML loader), its services per profile,
and Compose's variable interpolation, done the way the Compose Specification defines it.

Example::

    interpolate("${A:-${B:-x}}", {"B": "y"})                     # 'y'
    interpolate("$$HOME ${A-unset} ${A:-empty}", {"A": ""})      # '$HOME  empty'
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from core.settings import Settings
from tests.support.environment import REPO

COMPOSE = REPO / "docker-compose.yml"
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def load_compose(path: Path = COMPOSE) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())
    return loaded


class Interpolation:
    """One pass over a string: ``$$`` is a literal ``$``; ``$NAME`` and ``${NAME}`` read ``env`` (unset: empty);
    ``${NAME:-default}`` / ``${NAME-default}`` fall back when unset or empty / unset only;
    ``${NAME:+alt}`` / ``${NAME+alt}`` the opposite; ``${NAME:?err}`` / ``${NAME?err}`` fail.
    A default may itself hold variables (``${A:-${B:-x}}``). ``seen`` collects (name, raw default)."""

    def __init__(self, text: str, env: Mapping[str, str]) -> None:
        self.text, self.env, self.pos = text, env, 0
        self.seen: list[tuple[str, str | None]] = []

    def run(self) -> str:
        value = self._until(closing=False)
        if self.pos != len(self.text):
            raise ValueError(f"unbalanced braces in {self.text!r}")
        return value

    def _until(self, closing: bool) -> str:
        out: list[str] = []
        text = self.text
        while self.pos < len(text):
            char = text[self.pos]
            if closing and char == "}":
                return "".join(out)
            if char == "$" and text.startswith("$$", self.pos):
                out.append("$")
                self.pos += 2
            elif char == "$" and text.startswith("${", self.pos):
                self.pos += 2
                out.append(self._braced())
            elif char == "$" and (bare := NAME.match(text, self.pos + 1)):
                self.seen.append((bare.group(), None))
                out.append(self.env.get(bare.group(), ""))
                self.pos = bare.end()
            else:
                out.append(char)
                self.pos += 1
        if closing:
            raise ValueError(f"no closing brace in {text!r}")
        return "".join(out)

    def _braced(self) -> str:
        match = NAME.match(self.text, self.pos)
        if match is None:
            raise ValueError(f"bad variable name at {self.pos} in {self.text!r}")
        name, self.pos = match.group(), match.end()
        operators = (":-", ":+", ":?", "-", "+", "?", "}")
        operator = next((op for op in operators if self.text.startswith(op, self.pos)), None)
        if operator is None:
            raise ValueError(f"bad substitution after {name} in {self.text!r}")
        self.pos += len(operator)
        if operator == "}":
            self.seen.append((name, None))
            return self.env.get(name, "")
        start = self.pos
        argument = self._until(closing=True)
        self.seen.append((name, self.text[start:self.pos]))
        self.pos += 1  # the closing brace
        value = self.env.get(name)
        present = value is not None and (value != "" or not operator.startswith(":"))
        if operator.endswith("-"):
            return value if present and value is not None else argument
        if operator.endswith("+"):
            return argument if present else ""
        if not present:
            raise ValueError(f"{name} is required: {argument}")
        return value or ""


def interpolate(text: str, env: Mapping[str, str]) -> str:
    return Interpolation(text, env).run()


def variables(text: str) -> list[tuple[str, str | None]]:
    """Every variable a string reads, nested ones too, with its raw default (None: none given)."""
    walk = Interpolation(text, {})
    walk.run()
    return walk.seen


def interpolate_all(node: Any, env: Mapping[str, str]) -> Any:
    """The document as Compose sees it after interpolation: every string (not keys) resolved."""
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, dict):
        return {key: interpolate_all(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [interpolate_all(item, env) for item in node]
    return node


def strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for key, value in node.items() for s in (*strings(key), *strings(value))]
    if isinstance(node, list):
        return [s for item in node for s in strings(item)]
    return []


def setting_exists(env_name: str) -> bool:
    """``RAGQA_API__CORS_ORIGINS`` -> Settings.api.cors_origins, walking the model section by section."""
    model: type[BaseModel] = Settings
    *sections, leaf = env_name.removeprefix("RAGQA_").lower().split("__")
    for name in sections:
        field = model.model_fields.get(name)
        if field is None or not (isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)):
            return False
        model = field.annotation
    return leaf in model.model_fields


def services_in(compose: Mapping[str, Any], profile: str) -> dict[str, dict[str, Any]]:
    """The services `docker compose --profile PROFILE up` starts: the profile's and those with none."""
    return {name: service for name, service in compose["services"].items()
            if not service.get("profiles") or profile in service["profiles"]}  # fmt: skip


def environment(service: Mapping[str, Any], env: Mapping[str, str] | None = None) -> dict[str, str]:
    """A service's ``environment`` mapping; interpolated with ``env`` (the shell and .env) when given."""
    block = service.get("environment") or {}
    if not isinstance(block, dict):
        raise TypeError("environment as a mapping, so names can be checked")
    raw = {str(k): "" if v is None else str(v) for k, v in block.items()}
    return raw if env is None else {k: interpolate(v, env) for k, v in raw.items()}
