"""Directory commands: `reconcile`, `directory sync|retry-parked`, `slapd start|stop`.

A thin layer: the work is in `reconcile`, `ldapsync` and `slapd`; library errors
become a message on stderr and exit code 2 here, nowhere else.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.orm import Session, sessionmaker

from profilesync import db, ldapsync, slapd
from profilesync import reconcile as reconcile_mod
from profilesync.cli.common import ConfigOption, fail, load_settings
from profilesync.clock import SystemClock
from profilesync.config import Settings
from profilesync.ldapconn import DirectoryNotConfigured, DirectoryUnavailable

directory_app = typer.Typer(
    help="Synchronisation de l'annuaire LDAP.", no_args_is_help=True, add_completion=False
)
slapd_app = typer.Typer(
    help="Un slapd local (démarrage rapide, essais) ; pas pour la production.",
    no_args_is_help=True,
    add_completion=False,
)


def register(app: typer.Typer) -> None:
    """Add `reconcile`, `directory …` and `slapd …`."""
    app.command("reconcile")(reconcile)
    app.add_typer(directory_app, name="directory")
    app.add_typer(slapd_app, name="slapd")


@contextmanager
def _sessions(settings: Settings) -> Iterator[sessionmaker[Session]]:
    engine = db.make_engine(settings.database.url)
    try:
        db.require_current(engine)
        yield db.session_factory(engine)
    except db.SchemaOutOfDate as exc:
        fail(str(exc))
    finally:
        engine.dispose()


def reconcile(
    config: ConfigOption = None,
    repair: Annotated[
        bool, typer.Option("--repair", help="Corrige les écarts (même chemin que la synchro).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Sortie JSON.")] = False,
) -> None:
    """Compare l'annuaire à la base (la référence) ; code 1 s'il reste des écarts."""
    settings = load_settings(config)
    with _sessions(settings) as factory, factory() as session:
        try:
            found = reconcile_mod.compare(session, settings.ldap)
            if as_json:
                typer.echo(json.dumps(found.as_json(), ensure_ascii=False, indent=2))
            else:
                for drift in found.drift:
                    typer.echo(drift.line())
                typer.echo(found.summary())
            if not found.drift:
                return
            if not repair:
                raise typer.Exit(1)
            failures = reconcile_mod.repair(session, settings.ldap, found)
            after = reconcile_mod.compare(session, settings.ldap)
        except (DirectoryUnavailable, DirectoryNotConfigured) as exc:
            fail(f"annuaire indisponible : {exc}")
    if not as_json:
        typer.echo(f"réparation : {failures} échecs ; après réparation : {after.summary()}")
    raise typer.Exit(1 if after.drift else 0)


@directory_app.command("sync")
def sync(
    config: ConfigOption = None,
    limit: Annotated[int | None, typer.Option(help="Au plus N changements.")] = None,
) -> None:
    """Pousse maintenant vers l'annuaire les changements en attente."""
    settings = load_settings(config)
    with _sessions(settings) as factory:
        report = ldapsync.sync_once(factory, settings, clock=SystemClock(), limit=limit)
        with factory() as session:
            due, waiting, parked = ldapsync.backlog(session, SystemClock().now())
    typer.echo(report.line())
    typer.echo(
        f"file d'attente : {due} à pousser, {waiting} en attente de reprise, {parked} de côté"
    )
    if report.error:
        raise typer.Exit(2)


@directory_app.command("retry-parked")
def retry_parked(
    config: ConfigOption = None,
    key: Annotated[
        str | None, typer.Argument(help="Seulement cette clé (uid ou Finess ET).")
    ] = None,
) -> None:
    """Remet dans la file les changements mis de côté (après correction des données)."""
    settings = load_settings(config)
    with _sessions(settings) as factory, factory.begin() as session:
        count = ldapsync.unpark(session, SystemClock().now(), key)
    typer.echo(f"{count} changements remis dans la file")


DirOption = Annotated[Path, typer.Option("--dir", help="Répertoire de l'instance.")]


@slapd_app.command("start")
def slapd_start(
    directory: DirOption = Path("var/slapd"),
    port: Annotated[int | None, typer.Option(help="Port (sinon : libre).")] = None,
    base_dn: Annotated[str, typer.Option("--base-dn")] = "dc=example,dc=org",
) -> None:
    """Démarre un slapd local et affiche les réglages [ldap] pour s'y connecter."""
    try:
        inst = slapd.start(directory, base_dn=base_dn, port=port)
    except slapd.SlapdError as exc:
        fail(str(exc))
    typer.echo(
        f'[ldap]\nurl = "{inst.url}"\nbase_dn = "{inst.base_dn}"\n'
        f'bind_dn = "{inst.root_dn}"\nbind_password_file = "{inst.password_file}"'
    )


@slapd_app.command("stop")
def slapd_stop(directory: DirOption = Path("var/slapd")) -> None:
    """Arrête le slapd local."""
    try:
        stopped = slapd.stop(slapd.load(directory.resolve()))
    except slapd.SlapdError as exc:
        fail(str(exc))
    typer.echo("slapd arrêté" if stopped else "slapd ne tournait pas")
