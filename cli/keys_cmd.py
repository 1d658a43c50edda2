"""`ragqa keys create/list/quota/revoke`: scoped API keys (roles, collections, groups, a daily token
quota), kept in Redis as digests; the key itself is printed once, when made."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from bootstrap.components import Components
from cli.output import console, err_console, fail, print_json
from core.errors import InvalidRequest, RagqaError
from core.settings import Settings
from state.api_keys import KeyAdmin
from state.audit import cli_principal

keys_app = typer.Typer(help="Scoped API keys: who may ask, ingest or administer, in which collections.",
                       no_args_is_help=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


@keys_app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A name for the key's holder (unique among keys not revoked).")],
    role: Annotated[list[str] | None, typer.Option(
        "--role", help="ask, ingest or admin; repeatable (default: ask).")] = None,
    collection: Annotated[list[str] | None, typer.Option(
        "--collection", "-c", help="A collection it may use; repeatable (default: every collection).")] = None,
    group: Annotated[list[str] | None, typer.Option(
        "--group", help="A group it reads as (documents with --acl group:NAME); repeatable.")] = None,
    daily_tokens: Annotated[int | None, typer.Option(
        "--daily-tokens", help="LLM tokens it may use a day (UTC); past them its questions get 429 "
        "quota_exceeded until midnight UTC (default: no quota).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Make a key. It is shown once: store it now."""
    settings: Settings = ctx.obj
    try:
        with Components(settings) as parts:
            secret, record = KeyAdmin(parts.jobs_redis.client(), settings.redis.key_prefix).create(
                name, role or ["ask"], collection or None, group or [], daily_tokens)
            _audit(parts, settings, "key_create", name)
    except RagqaError as exc:
        fail(exc, as_json)
    if as_json:
        print_json({"key": secret, **record.to_dict()})
        return
    console.print(f"key [bold]{escape(name)}[/] ({', '.join(record.roles)}; collections: "
                  f"{escape(', '.join(record.collections)) if record.collections else 'all'}; groups: "
                  f"{escape(', '.join(record.groups)) or 'none'}; daily tokens: {_quota(record.daily_tokens)}):")
    console.print(secret, markup=False, highlight=False)
    if not (settings.api.require_auth or settings.api.api_keys_sha256 or settings.auth.jwt_jwks):
        err_console.print("[yellow]note[/]: the server does not require credentials yet: set "
                          "RAGQA_API__REQUIRE_AUTH=true, or a request without a key may do everything")


@keys_app.command("list")
def list_keys(
    ctx: typer.Context,
    revoked: Annotated[bool, typer.Option("--revoked", help="Include revoked keys.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """The keys (names, roles, collections, groups; never the keys)."""
    settings: Settings = ctx.obj
    try:
        with Components(settings) as parts:
            records = KeyAdmin(parts.jobs_redis.client(), settings.redis.key_prefix).list(include_revoked=revoked)
    except RagqaError as exc:
        fail(exc, as_json)
    if as_json:
        print_json([r.to_dict() for r in records])
        return
    table = Table("name", "roles", "collections", "groups", "daily tokens", "digest", "state")
    for r in records:
        table.add_row(escape(r.name), ", ".join(r.roles), escape(", ".join(r.collections or ("all",))),
                      escape(", ".join(r.groups)), _quota(r.daily_tokens), r.digest[:12],
                      "revoked" if r.revoked else "active")
    console.print(table)


@keys_app.command("quota")
def quota(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The key's name.")],
    daily_tokens: Annotated[int | None, typer.Argument(
        help="LLM tokens it may use a day (UTC); past them its questions get 429 quota_exceeded.")] = None,
    unlimited: Annotated[bool, typer.Option("--unlimited", help="Remove the key's quota.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Set a key's daily token quota (or remove it with --unlimited); servers apply it within seconds.
    `ragqa usage --key NAME` shows what it used."""
    settings: Settings = ctx.obj
    if (daily_tokens is None) == (not unlimited):
        fail(InvalidRequest("give the tokens a day, or --unlimited"), as_json)
    try:
        with Components(settings) as parts:
            record = KeyAdmin(parts.jobs_redis.client(), settings.redis.key_prefix).set_quota(
                name, None if unlimited else daily_tokens)
            _audit(parts, settings, "key_quota", name)
    except RagqaError as exc:
        fail(exc, as_json)
    if as_json:
        print_json(record.to_dict())
    else:
        console.print(f"key [bold]{escape(record.name)}[/]: daily tokens {_quota(record.daily_tokens)}")


def _quota(daily_tokens: int | None) -> str:
    return "unlimited" if daily_tokens is None else f"{daily_tokens:,}"


@keys_app.command("revoke")
def revoke(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The key's name.")],
    as_json: JsonOpt = False,
) -> None:
    """Revoke a key: servers refuse it within seconds."""
    settings: Settings = ctx.obj
    try:
        with Components(settings) as parts:
            record = KeyAdmin(parts.jobs_redis.client(), settings.redis.key_prefix).revoke(name)
            _audit(parts, settings, "key_revoke", name)
    except RagqaError as exc:
        fail(exc, as_json)
    if as_json:
        print_json({"revoked": record.name})
    else:
        console.print(f"revoked [bold]{escape(record.name)}[/]")


def _audit(parts: Components, settings: Settings, action: str, name: str) -> None:
    parts.audit_trail().record(
        cli_principal(), action, f"cli keys {action.removeprefix('key_')}", target=name)


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
