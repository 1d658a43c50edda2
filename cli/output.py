"""Printing results: rich tables for people, JSON for programs, one error shape for both."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from core.errors import RagqaError

console = Console()
err_console = Console(stderr=True)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def fail(exc: RagqaError, as_json: bool, exit_code: int = 2) -> NoReturn:
    if as_json:
        print_json({"error": exc.to_dict()})
    else:
        err_console.print(f"[bold red]error[/] ({exc.code}): {escape(exc.message)}")
    raise typer.Exit(exit_code)
