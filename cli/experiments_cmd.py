"""`ragqa experiments create/list/stop/report`: live experiments, kept in Redis (``state.experiments``);
the report's statistics are ``state.experiment_report``'s."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from bootstrap.components import Components
from cli.output import console, fail, print_json
from core.errors import InvalidRequest, RagqaError
from core.experiments import Arm, Experiment, parse_arm
from core.names import check_collection
from core.settings import Settings
from state.audit import cli_principal
from state.experiments import ExperimentStore

experiments_app = typer.Typer(
    help="Live experiments: split questions between variants of the answer settings, and compare them.",
    no_args_is_help=True)  # fmt: skip
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def _store(parts: Components, settings: Settings) -> ExperimentStore:
    return ExperimentStore(parts.jobs_redis.client(), settings.redis.key_prefix)


def _check_prompts(arms: list[Arm]) -> None:
    from generation.prompts import available_prompts

    known = available_prompts()
    for arm in arms:
        version = arm.overrides.get("prompt_version")
        if version is not None and version not in known:
            raise InvalidRequest(f"arm {arm.name!r}: no prompt {version!r} (there are {', '.join(known)})")


def _check_evidence_models(arms: list[Arm], settings: Settings) -> None:
    """Each arm's evidence model is one the servers know (those of this configuration's folder)."""
    if not any("evidence_model" in arm.overrides for arm in arms):
        return
    from generation.evidence_models import EvidenceModels

    models = EvidenceModels.from_settings(settings.answer)
    for arm in arms:
        name = arm.overrides.get("evidence_model")
        if name is not None and name not in models.names():
            raise InvalidRequest(f"arm {arm.name!r}: no evidence model {name!r} (there are "
                                 f"{', '.join(models.names())}; answer.evidence_models_dir holds more)")


@experiments_app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The experiment's name (letters, digits, . _ -).")],
    arm: Annotated[list[str], typer.Option(
        "--arm", help="NAME:SETTING=VALUE[,SETTING=VALUE]:SHARE, e.g. b:prompt_version=rag-v2:50 (NAME::SHARE "
        "sets nothing: the control). Settings: prompt_version, mode, top_k, fusion (convex, rrf, dbsf, dense, "
        "sparse), evidence_model (default, or a name in answer.evidence_models_dir), temperature, max_tokens. "
        "Shares are percents summing to 100. Repeat for each arm.")],
    collection: Annotated[str | None, typer.Option(
        "--collection", "-c", help="Only questions to this collection (default: every collection).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Start an experiment: each user (or conversation) is kept in one arm, by a hash, on every server."""
    settings: Settings = ctx.obj
    try:
        arms = [parse_arm(spec) for spec in arm]
        _check_prompts(arms)
        _check_evidence_models(arms, settings)
        experiment = Experiment(name, tuple(arms), check_collection(collection) if collection else None)
        with Components(settings) as parts:
            _store(parts, settings).create(experiment)
            parts.audit_trail().record(cli_principal(), "admin", "cli experiments create", target=name,
                                       collection=collection)  # fmt: skip
    except RagqaError as exc:
        fail(exc, as_json)
    if as_json:
        print_json(experiment.to_dict())
        return
    console.print(f"experiment [bold]{escape(name)}[/] started on "
                  f"{escape(collection) if collection else 'every collection'}: "
                  + "; ".join(f"{escape(a.name)} {a.share:g}% ({_settings(a)})" for a in arms)
                  + f" (servers apply it within {settings.api.experiments_refresh_s:g} s)")


@experiments_app.command("list")
def list_experiments(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Every experiment, running or stopped, oldest first."""
    settings: Settings = ctx.obj
    try:
        with Components(settings) as parts:
            found = _store(parts, settings).list()
    except RagqaError as exc:
        fail(exc, as_json)
    if as_json:
        print_json([e.to_dict() for e in found])
        return
    table = Table("name", "collection", "arms", "created", "state")
    for e in found:
        table.add_row(escape(e.name), escape(e.collection or "all"),
                      escape("; ".join(f"{a.name} {a.share:g}% ({_settings(a)})" for a in e.arms)),
                      _when(e.created), "running" if e.running else f"stopped {_when(e.stopped)}")
    console.print(table)


@experiments_app.command("stop")
def stop(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The experiment's name.")],
    as_json: JsonOpt = False,
) -> None:
    """Stop assigning questions to an experiment; its report stays (late votes still count)."""
    settings: Settings = ctx.obj
    try:
        with Components(settings) as parts:
            experiment = _store(parts, settings).stop(name)
            parts.audit_trail().record(cli_principal(), "admin", "cli experiments stop", target=name)
    except RagqaError as exc:
        fail(exc, as_json)
    if as_json:
        print_json(experiment.to_dict())
    else:
        console.print(f"stopped [bold]{escape(name)}[/] (servers stop assigning within "
                      f"{settings.api.experiments_refresh_s:g} s)")


@experiments_app.command("report")
def report(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The experiment's name.")],
    as_json: JsonOpt = False,
) -> None:
    """Each arm's answers, thumbs-up rate, refusals, low-confidence answers, citation opens, copies,
    latency and tokens, with 95% confidence intervals; and whether one arm is significantly better."""
    from state.experiment_report import build_report

    settings: Settings = ctx.obj
    try:
        with Components(settings) as parts:
            store = _store(parts, settings)
            experiment = store.get(name)
            result = build_report(experiment, store.counters(experiment))
    except RagqaError as exc:
        fail(exc, as_json)
    if as_json:
        print_json(result.to_dict())
        return
    table = Table("arm", "share", "settings", "answers (cached)", "thumbs up", "refusals", "low confidence",
                  "citation opens", "copies", "latency ms", "tokens", title=f"experiment {escape(name)}")
    for a in result.arms:
        table.add_row(escape(a.name), f"{a.share:g}%", escape(_settings(a)), f"{a.answers} ({a.cached})",
                      _rate(a.thumbs_up, f"{a.up}/{a.votes}"), _rate(a.refusals), _rate(a.low_confidence),
                      _rate(a.citation_opens), _rate(a.copies), _mean(a.latency_ms), _mean(a.tokens))
    console.print(table)
    console.print(("[bold green]" if result.verdict.significant else "[yellow]") + escape(result.verdict.summary))


def _settings(arm: Arm | Any) -> str:
    return ", ".join(f"{k}={v}" for k, v in arm.overrides.items()) or "defaults"


def _rate(value: tuple[float, float, float] | None, count: str = "") -> str:
    if value is None:
        return "-"
    rate, low, high = value
    return f"{rate:.1%} [{low:.1%}, {high:.1%}]" + (f" {count}" if count else "")


def _mean(value: tuple[float, float, float] | None) -> str:
    return "-" if value is None else f"{value[0]:.1f} [{value[1]:.1f}, {value[2]:.1f}]"


def _when(moment: float | None) -> str:
    return datetime.fromtimestamp(moment or 0, UTC).strftime("%Y-%m-%d %H:%M UTC")


def register(app: typer.Typer) -> None:
    app.add_typer(experiments_app, name="experiments")
