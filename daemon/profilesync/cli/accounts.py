"""Operator command: `account set KEY` — the names, email or password of one account.

A référent cannot change these on an account another establishment relies on (the import
says « compte partagé avec un autre établissement »); the operator can, here. A password is
read from standard input or a hidden prompt, never from the command line, where `ps` and
the shell history would keep it.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from profilesync.cli.common import CommandRejected, ConfigOption, transaction
from profilesync.clock import SystemClock
from profilesync.config import hashing
from profilesync.config import load as load_settings
from profilesync.secret import Secret

app = typer.Typer()
account_app = typer.Typer(help="Change an account's own data (names, email, password).")
app.add_typer(account_app, name="account", no_args_is_help=True)


@account_app.command("set")
def account_set(  # noqa: PLR0917 - typer passes options by keyword
    key: Annotated[str, typer.Argument(help="The account: Identifiant, or RPPS for a doctor.")],
    nom: Annotated[str | None, typer.Option("--nom", help="New Nom.")] = None,
    prenom: Annotated[str | None, typer.Option("--prenom", help="New Prénom.")] = None,
    email: Annotated[
        str | None, typer.Option("--email", help="New MSSanté email; '' removes it.")
    ] = None,
    password_stdin: Annotated[
        bool,
        typer.Option(
            "--password-stdin",
            help="Read a new password from standard input (a hidden prompt on a terminal).",
        ),
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Set an account's names, email or password; audited, pushed to the directory."""
    from profilesync.store import accounts, admin  # noqa: PLC0415
    from profilesync.store.passwords import hash_password  # noqa: PLC0415

    if nom is None and prenom is None and email is None and not password_stdin:
        raise CommandRejected(
            "nothing to change: give --nom, --prenom, --email or --password-stdin"
        )
    settings = load_settings(config)
    password = _read_password() if password_stdin else None
    with transaction(config) as session:
        change = accounts.update_account(
            session,
            key,
            nom=nom,
            prenom=prenom,
            email=email,
            password=password,
            hash_password=lambda secret: hash_password(secret, hashing(settings)),
            policy=settings.passwords,
            actor=admin.operator_actor(),
            now=SystemClock().now(),
        )
    if change.changed:
        typer.echo(f"account {change.key}: changed {', '.join(change.changed)}")
    else:
        typer.echo(f"account {change.key}: nothing to change")


def _read_password() -> Secret:
    if sys.stdin.isatty():
        text = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    else:
        text = sys.stdin.readline().rstrip("\r\n")
    if not text:
        raise CommandRejected("no password on standard input")
    return Secret(text)
