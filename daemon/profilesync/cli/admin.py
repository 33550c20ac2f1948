"""Operator commands: `db upgrade|status`, `establishment add|list`, `referent add|remove|list`.

A thin layer over `profilesync.store.db` and `profilesync.store.admin`: open the configured
database, refuse an out-of-date schema, call the library in one transaction, print.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated

import typer

from profilesync.cli.common import CommandRejected, ConfigOption, database, transaction
from profilesync.clock import SystemClock
from profilesync.config import load as load_settings
from profilesync.errors import EXIT_LINE_ERRORS
from profilesync.store import admin, db

app = typer.Typer()
db_app = typer.Typer(help="Create or upgrade the database schema, show its revision.")
establishment_app = typer.Typer(help="Register establishments (Finess ET under their EJ).")
referent_app = typer.Typer(help="Register référents and the establishments they manage.")
app.add_typer(db_app, name="db", no_args_is_help=True)
app.add_typer(establishment_app, name="establishment", no_args_is_help=True)
app.add_typer(referent_app, name="referent", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


# -- db -------------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade(config: ConfigOption = None) -> None:
    """Create the schema, or bring it to this version's revision (safe to run again)."""
    with database(load_settings(config), create=True) as engine:
        result = db.upgrade(engine)
        where = db.display_url(engine.url)
    if result.changed:
        typer.echo(f"{where}: upgraded from {result.before or '(empty)'} to {result.after}")
    else:
        typer.echo(f"{where}: already at {result.after}, nothing to do")


@db_app.command("status")
def db_status(config: ConfigOption = None) -> None:
    """Show the database revision and the expected one; exit 1 when they differ."""
    settings = load_settings(config)
    head = db.head_revision()
    if db.missing_file(settings.database.url):  # read-only: no empty file left behind
        current = None
        typer.echo(f"database: {db.display_url(settings.database.url)}")
    else:
        with database(settings) as engine:
            current = db.current_revision(engine)
            typer.echo(f"database: {db.display_url(engine.url)}")
    typer.echo(f"current revision: {current or '(not initialised)'}")
    typer.echo(f"expected revision: {head}")
    if current != head:
        typer.echo(f"out of date: {db.UPGRADE_HINT}")
        raise typer.Exit(EXIT_LINE_ERRORS)
    typer.echo("up to date")


# -- establishments -------------------------------------------------------------------------


@establishment_app.command("add")
def establishment_add(
    ej: Annotated[str, typer.Option("--ej", help="Finess EJ (legal entity).")],
    et: Annotated[str, typer.Option("--et", help="Finess ET (the establishment).")],
    name: Annotated[
        str | None, typer.Option("--name", help="Display name (given again: renames).")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Register an establishment; the same EJ and ET again changes nothing but the name."""
    with transaction(config) as session:
        change = admin.add_establishment(
            session, ej=ej, et=et, name=name, actor=admin.operator_actor(), now=_now()
        )
    est = change.establishment
    if change.created:
        typer.echo(f"added establishment {est.et} (EJ {est.ej}) {est.name}".rstrip())
    elif change.renamed:
        typer.echo(f"renamed establishment {est.et} to {est.name!r}")
    else:
        typer.echo(f"establishment {est.et} (EJ {est.ej}) already registered, unchanged")


@establishment_app.command("list")
def establishment_list(as_json: JsonOption = False, config: ConfigOption = None) -> None:
    """List establishments with their référents."""
    with transaction(config) as session:
        rows = admin.list_establishments(session)
    if as_json:
        data = [
            {"et": r.et, "ej": r.ej, "name": r.name, "referents": list(r.referents)} for r in rows
        ]
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    if not rows:
        typer.echo("no establishment registered")
        return
    _table(
        ("ET", "EJ", "NAME", "REFERENTS"),
        [(r.et, r.ej, r.name, ", ".join(r.referents) or "-") for r in rows],
    )


# -- référents ------------------------------------------------------------------------------

EtOption = Annotated[
    list[str] | None,
    typer.Option("--et", help="Finess ET of a registered establishment (repeatable)."),
]
LoginArgument = Annotated[
    str, typer.Argument(help="Login: the référent's inbox folder name (stored in lower case).")
]


@referent_app.command("add")
def referent_add(
    login: LoginArgument,
    et: EtOption = None,
    email: Annotated[
        str | None,
        typer.Option(
            "--email", help="Where the référent's notifications go (given again: changes it)."
        ),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Make LOGIN référent of the given establishments (kept in addition to current ones);
    their template is put in outbox/LOGIN/modele.csv."""
    from profilesync.service import selfservice  # noqa: PLC0415 - the CLI starts fast (11.4)

    if not et:
        raise CommandRejected("give at least one establishment with --et")
    with transaction(config) as session:
        change = admin.add_referent(
            session, login, et, actor=admin.operator_actor(), now=_now(), email=email
        )
    try:
        selfservice.ensure_template(load_settings(config), change.login)
    except OSError as exc:  # registered all the same: the daemon writes it at its next scan
        typer.echo(f"warning: template not written in the outbox: {exc.strerror}", err=True)
    if change.email_changed:
        typer.echo(f"notifications of {change.login} go to {email}")
    if change.created:
        typer.echo(f"added référent {change.login}: {', '.join(change.establishments)}")
    elif change.added:
        typer.echo(
            f"référent {change.login} now also manages {', '.join(change.added)} "
            f"(all: {', '.join(change.establishments)})"
        )
    else:
        typer.echo(f"référent {change.login} already manages {', '.join(sorted(set(et)))}")


@referent_app.command("remove")
def referent_remove(login: LoginArgument, et: EtOption = None, config: ConfigOption = None) -> None:
    """Withdraw establishments from LOGIN (--et), or without --et remove the référent."""
    with transaction(config) as session:
        change = admin.remove_referent(
            session, login, et or None, actor=admin.operator_actor(), now=_now()
        )
    if change.deleted:
        typer.echo(f"removed référent {change.login}")
    elif change.removed:
        left = ", ".join(change.establishments) or "none"
        removed = ", ".join(change.removed)
        typer.echo(f"référent {change.login} no longer manages {removed} (left: {left})")
    else:
        typer.echo(f"référent {change.login} did not manage {', '.join(et or [])}, unchanged")


@referent_app.command("list")
def referent_list(as_json: JsonOption = False, config: ConfigOption = None) -> None:
    """List référents with their establishments."""
    with transaction(config) as session:
        rows = admin.list_referents(session)
    if as_json:
        data = [
            {"login": r.login, "establishments": list(r.establishments), "email": r.email}
            for r in rows
        ]
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    if not rows:
        typer.echo("no référent registered")
        return
    _table(
        ("LOGIN", "ESTABLISHMENTS", "EMAIL"),
        [(r.login, ", ".join(r.establishments) or "-", r.email or "-") for r in rows],
    )


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Plain aligned columns: readable in a terminal, greppable, never truncated."""
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=False)]
    for row in (header, *rows):
        cells = [c.ljust(w) for c, w in zip(row, widths, strict=True)]
        typer.echo("  ".join(cells).rstrip())


def _now() -> datetime:
    return SystemClock().now()
