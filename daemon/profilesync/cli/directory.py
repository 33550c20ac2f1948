"""Directory commands: `reconcile`, `directory sync|retry-parked`, `slapd start|stop`.

A thin layer: the work is in `reconcile`, `ldapsync` and `slapd`, whose errors the root
group reports.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from profilesync.cli.common import CommandRejected, ConfigOption, sessions
from profilesync.clock import SystemClock
from profilesync.config import load as load_settings
from profilesync.directory import reconcile as reconcile_mod
from profilesync.directory import slapd
from profilesync.directory import sync as ldapsync
from profilesync.directory.conn import DirectoryNotConfigured, DirectoryUnavailable
from profilesync.directory.servers import UnknownServer
from profilesync.errors import EXIT_REJECTED

app = typer.Typer()
directory_app = typer.Typer(
    help="LDAP directory synchronisation.", no_args_is_help=True, add_completion=False
)
slapd_app = typer.Typer(
    help="A local slapd (quick start, trials); not for production.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(directory_app, name="directory")
app.add_typer(slapd_app, name="slapd")


@app.command("reconcile")
def reconcile(
    config: ConfigOption = None,
    repair: Annotated[
        bool, typer.Option("--repair", help="Repair the drift (through the same path as the sync).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """Compare the directory with the database (the reference); exit 1 if drift remains."""
    settings = load_settings(config)
    with sessions(settings) as factory, factory() as session:
        try:
            found = reconcile_mod.compare(session, settings)
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
            failures = reconcile_mod.repair(session, settings, found)
            session.commit()  # the passwords written, the directory's password dates
            after = reconcile_mod.compare(session, settings)
        except (DirectoryUnavailable, DirectoryNotConfigured, UnknownServer) as exc:
            # "[ldap] url is empty" alone would not say that the comparison never started.
            raise CommandRejected(f"directory unavailable: {exc}") from exc
    if not as_json:
        typer.echo(f"repair: {failures} failure(s); after repair: {after.summary()}")
    raise typer.Exit(1 if after.drift else 0)


@directory_app.command("sync")
def sync(
    config: ConfigOption = None,
    limit: Annotated[int | None, typer.Option(help="At most N changes.")] = None,
) -> None:
    """Push the queued changes to the directory now, those waiting for a retry too."""
    settings = load_settings(config)
    with sessions(settings) as factory:
        report = ldapsync.sync_once(
            factory, settings, clock=SystemClock(), limit=limit, waiting_too=True
        )
        with factory() as session:
            due, waiting, parked = ldapsync.backlog(session, SystemClock().now())
    typer.echo(report.line())
    typer.echo(f"queue: {due} due, {waiting} waiting for a retry, {parked} parked")
    if report.error:
        raise typer.Exit(EXIT_REJECTED)


@directory_app.command("retry-parked")
def retry_parked(
    config: ConfigOption = None,
    key: Annotated[str | None, typer.Argument(help="Only this key (uid or Finess ET).")] = None,
) -> None:
    """Put parked changes back in the queue (once the data is fixed)."""
    settings = load_settings(config)
    with sessions(settings) as factory, factory.begin() as session:
        count = ldapsync.unpark(session, SystemClock().now(), key)
    typer.echo(f"{count} change(s) put back in the queue")


DirOption = Annotated[Path, typer.Option("--dir", help="Instance directory.")]


@slapd_app.command("start")
def slapd_start(
    directory: DirOption = Path("var/slapd"),
    port: Annotated[int | None, typer.Option(help="Port (default: a free one).")] = None,
    base_dn: Annotated[str, typer.Option("--base-dn")] = "dc=example,dc=org",
    config: ConfigOption = None,
) -> None:
    """Start a local slapd and print the [ldap] settings to connect to it."""
    max_age = load_settings(config).passwords.max_age_days  # the policy's pwdMaxAge
    inst = slapd.start(directory, base_dn=base_dn, port=port, max_age_days=max_age)
    typer.echo(
        f'[ldap]\nurl = "{inst.url}"\nbase_dn = "{inst.base_dn}"\n'
        f'bind_dn = "{inst.root_dn}"\nbind_password_file = "{inst.password_file}"'
    )


@slapd_app.command("stop")
def slapd_stop(directory: DirOption = Path("var/slapd")) -> None:
    """Stop the local slapd."""
    stopped = slapd.stop(slapd.load(directory.resolve()))
    typer.echo("slapd stopped" if stopped else "slapd was not running")
