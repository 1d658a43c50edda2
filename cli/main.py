"""Entry point of the `ragqa` command. Each command group lives in its own module."""

from __future__ import annotations

import os
import signal
from importlib import metadata
from types import FrameType
from typing import Annotated, Any

import typer
import typer.core
from pydantic import ValidationError
from pydantic_settings import SettingsError

from cli import (
    ask_cmd,
    audit_cmd,
    backup_cmd,
    collection_cmd,
    config_cmd,
    eval_answers_cmd,
    eval_cmd,
    experiments_cmd,
    feedback_cmd,
    golden_cmd,
    ingest_cmd,
    inventory_cmd,
    jobs_cmd,
    keys_cmd,
    serve_cmd,
    sync_cmd,
    usage_cmd,
    worker_cmd,
)
from core.logging import configure_logging
from core.section import describe_settings_error, describe_source_error
from core.settings import Settings

_value_type = typer.core.TyperOption.display_type_rich


def _flag_type(self: typer.core.TyperOption, ctx: Any) -> str | None:  # typer's own vendored click Context
    # Typer 0.29's help shows "<bool>" beside flags, as if `--json` took a value: a flag shows no type.
    return None if self.is_flag else _value_type(self, ctx)


typer.core.TyperOption.display_type_rich = _flag_type  # type: ignore[method-assign]

app = typer.Typer(
    name="ragqa",
    help="Answers questions from your documents, citing exactly where.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    # Python's default for SIGTERM and SIGHUP ends the process on the spot: no `with` block closes,
    # so an embedded redis-server this command started would outlive it. Unwind instead.
    raise SystemExit(128 + signum)


def _print_version(value: bool) -> None:
    if value:
        try:
            version = metadata.version("ragqa")
        except metadata.PackageNotFoundError:
            version = "unknown (not installed)"
        typer.echo(f"ragqa {version}")
        raise typer.Exit()


@app.callback()
def main(ctx: typer.Context, version: Annotated[bool, typer.Option(
        "--version", callback=_print_version, is_eager=True, help="Print the version and exit.")] = False) -> None:
    """Settings come from RAGQA_* environment variables and ./.env."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    for name in ("SIGTERM", "SIGHUP"):  # (no SIGHUP on Windows) uvicorn and Celery put theirs in place as they run
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), _exit_on_signal)
    try:
        settings = Settings()
    except ValidationError as exc:
        typer.echo(f"error (configuration_error): invalid settings:\n{describe_settings_error(exc)}", err=True)
        raise typer.Exit(2) from exc
    except SettingsError as exc:
        typer.echo(f"error (configuration_error): invalid settings:\n{describe_source_error(exc, os.environ)}",
                   err=True)
        raise typer.Exit(2) from exc
    configure_logging(settings.log_level, settings.log_json, mask_pii=settings.ingest.mask_pii)
    ctx.obj = settings


ingest_cmd.register(app)
sync_cmd.register(app)
ask_cmd.register(app)
eval_cmd.register(app)
eval_answers_cmd.register(app)
serve_cmd.register(app)
feedback_cmd.register(app)
golden_cmd.register(app)
worker_cmd.register(app)
jobs_cmd.register(app)
inventory_cmd.register(app)
collection_cmd.register(app)
backup_cmd.register(app)
config_cmd.register(app)
keys_cmd.register(app)
experiments_cmd.register(app)
usage_cmd.register(app)
audit_cmd.register(app)

if __name__ == "__main__":
    app()
