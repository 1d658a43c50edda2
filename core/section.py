"""The base of every settings section: an empty value means unset, and errors name the variable.

``RAGQA_QDRANT__URL=`` in a compose file or a shell must mean what leaving it out means, for
every optional setting at once, or code that tests ``is None`` and code that tests truthiness
disagree about which store is in use.

    >>> class Demo(Section):
    ...     url: str | None = None
    ...     port: int = 8000
    >>> Demo(url="  ").url is None
    True
    >>> try:
    ...     Demo(port="x")
    ... except ValidationError as exc:
    ...     print(describe_settings_error(exc, prefix="DEMO_"))
    DEMO_PORT: Input should be a valid integer, unable to parse string as an integer (got 'x')
"""

from __future__ import annotations

import json
import re
import types
import typing
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError, model_validator


def _allows_none(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    return (origin is typing.Union or origin is types.UnionType) and type(None) in typing.get_args(annotation)


class Section(BaseModel):
    """A settings section whose optional fields read an empty or blank string as unset (None)."""

    @model_validator(mode="before")
    @classmethod
    def _empty_is_unset(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        cleaned = dict(data)
        for name, field in cls.model_fields.items():
            value = cleaned.get(name)
            if isinstance(value, str) and not value.strip() and _allows_none(field.annotation):
                cleaned[name] = None
        return cleaned


def describe_settings_error(exc: ValidationError, prefix: str = "RAGQA_") -> str:
    """One line per bad value, naming its environment variable: ``RAGQA_API__PORT: Input should be ...``."""
    lines = []
    for error in exc.errors():
        path = "__".join(str(part) for part in error.get("loc", ()) if not isinstance(part, int)).upper()
        given = error.get("input")
        shown = f" (got {given!r})" if isinstance(given, str | int | float) else ""
        lines.append(f"{prefix}{path}: {error.get('msg', 'invalid')}{shown}")
    return "\n".join(lines) or str(exc)


def describe_source_error(exc: Exception, environ: Mapping[str, str], prefix: str = "RAGQA_") -> str:
    """pydantic-settings fails before validation when a list or object setting is not JSON; its
    message names only the section. Name the variable: the first of that section whose value
    does not parse as JSON."""
    match = re.search(r'field "(\w+)"', str(exc))
    cause = f": {exc.__cause__}" if exc.__cause__ else ""
    if match:
        section = f"{prefix}{match.group(1).upper()}"
        for key, value in sorted(environ.items()):
            if key.upper() == section or key.upper().startswith(section + "__"):
                try:
                    json.loads(value)
                except ValueError:
                    if value.lstrip()[:1] in "[{" or key.upper().endswith(("TOKENS", "KEYS", "ORIGINS", "SHA256")):
                        return f"{key.upper()}: not valid JSON{cause} (list and object settings take JSON)"
        return f"{section}__*: a list or object setting is not valid JSON{cause}"
    return str(exc)
