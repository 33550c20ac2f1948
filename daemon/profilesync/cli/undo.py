"""`undo RUN [--dry-run]`: a thin command over store/undo.py."""

from __future__ import annotations

from typing import Annotated

import typer

from profilesync.cli.common import ConfigOption, sessions
from profilesync.clock import SystemClock
from profilesync.config import load as load_settings
from profilesync.errors import EXIT_LINE_ERRORS, EXIT_OK

app = typer.Typer()


@app.command("undo")
def undo_cmd(
    run: Annotated[int, typer.Argument(help="Number of the import to undo.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would be undone, change nothing.")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Undo an import: its changes reversed as a new run, with a report to the référent."""
    # SQLAlchemy-dependent modules load here, not at import: `--help` stays fast (11.4).
    from profilesync.store import admin, undo  # noqa: PLC0415

    settings = load_settings(config)
    with sessions(settings) as sf:
        result = undo.undo_run(
            run,
            settings=settings,
            session_factory=sf,
            clock=SystemClock(),
            actor=admin.operator_actor(),
            dry_run=dry_run,
        )
    if dry_run:
        typer.echo(f"dry run: nothing changed; undoing run {run} would give:")
    for outcome in result.outcomes:
        typer.echo(f"{outcome.line};{outcome.code};{' | '.join(outcome.messages)}")
    typer.echo(result.summary.line())
    if result.passwords_kept:
        typer.echo(
            "passwords are never restored: these accounts keep the password run "
            f"{run} set: {', '.join(result.passwords_kept)}"
        )
    if result.run_id is not None:
        typer.echo(f"undo recorded as run {result.run_id}")
        typer.echo(f"report: {result.report_path}")
    raise typer.Exit(EXIT_LINE_ERRORS if result.summary.erreur else EXIT_OK)
