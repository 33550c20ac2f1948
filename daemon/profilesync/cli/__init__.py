"""The `profilesync` command: a thin typer layer over the library.

Each area declares its commands in its own module (one per concept) on a typer app of its
own, merged here into one root. The root is also the one place where an error becomes an
exit code: a `ProfilesyncError` raised anywhere below is printed as `error: <message>` on
stderr and exits with the error's code, without a traceback.
"""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperGroup

from profilesync import filemodes
from profilesync.cli import accounts, admin, daemon, directory, files, imports, people, undo
from profilesync.errors import ProfilesyncError


class _Boundary(TyperGroup):
    """The root group, so that CliRunner tests and the console script convert alike."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except ProfilesyncError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(exc.exit_code) from None


app = typer.Typer(
    name="profilesync",
    cls=_Boundary,
    help="Profile management from CSV files: validation, profile database, LDAP directory.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Profile management from CSV files: validation, profile database, LDAP directory."""


for _module in (files, admin, accounts, imports, directory, daemon, people, undo):
    app.add_typer(_module.app)


def main() -> None:
    """Console-script entry point; nothing it creates is readable by every user."""
    filemodes.tighten_umask()
    app()
