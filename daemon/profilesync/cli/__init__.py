"""The `profilesync` command: a thin typer layer over the library.

Each area registers its commands from its own module, so the CLI stays a list of small
files (one per concept) rather than one long one.
"""

from __future__ import annotations

import typer

from profilesync.cli import admin, daemon, directory, files, imports

app = typer.Typer(
    name="profilesync",
    help="Profile management from CSV files: validation, profile database, LDAP directory.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Profile management from CSV files: validation, profile database, LDAP directory."""


for _module in (files, admin, imports, directory, daemon):
    _module.register(app)


def main() -> None:
    """Console-script entry point."""
    app()
