"""`ragqa config show`: the effective settings, one environment variable per line, secrets masked."""

from __future__ import annotations

import json
from typing import Annotated, Any
from urllib.parse import urlsplit, urlunsplit

import typer
from pydantic import SecretStr
from rich.markup import escape

from cli.output import console
from core.settings import Settings

config_app = typer.Typer(help="Inspect the configuration.", no_args_is_help=True)
MASK = "**********"


def mask_url_password(url: str) -> str:
    """``redis://:pw@host:6379/0`` -> ``redis://:**********@host:6379/0``."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    user = parts.username or ""
    netloc = f"{user}:{MASK}@{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def flatten(settings: Settings) -> dict[str, Any]:
    """``RAGQA_SECTION__FIELD -> value`` for every setting, as it is in effect now."""
    values: dict[str, Any] = {}

    def walk(prefix: str, model: Any) -> None:
        for name in type(model).model_fields:
            value = getattr(model, name)
            key = f"{prefix}__{name.upper()}" if prefix != "RAGQA" else f"RAGQA_{name.upper()}"
            if hasattr(type(value), "model_fields"):
                walk(key, value)
            elif isinstance(value, SecretStr):
                values[key] = MASK if value.get_secret_value() else ""
            elif isinstance(value, str) and "://" in value:
                values[key] = mask_url_password(value)
            else:
                values[key] = json.loads(json.dumps(value, default=str))

    walk("RAGQA", settings)
    return values


@config_app.command("show")
def show(ctx: typer.Context,
         as_json: Annotated[bool, typer.Option("--json", help="Print the settings as JSON.")] = False) -> None:
    """The effective settings (defaults, ./.env and RAGQA_* variables), secrets masked."""
    values = flatten(ctx.obj)
    if as_json:
        typer.echo(json.dumps(values, indent=2))
        return
    for key, value in values.items():
        shown = "" if value is None else value if isinstance(value, str) else json.dumps(value)
        console.print(f"{key}={escape(str(shown))}", soft_wrap=True, highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")
