"""File commands that need no state: `template` and `check`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from profilesync.cli.common import CommandRejected, ConfigOption
from profilesync.clock import SystemClock
from profilesync.config import load as load_settings

app = typer.Typer()


@app.command("template")
def template() -> None:
    """Print the import file template (the header line only, UTF-8 with BOM)."""
    from profilesync.fileformat import template as template_mod  # noqa: PLC0415

    sys.stdout.buffer.write(template_mod.template_bytes())
    sys.stdout.buffer.flush()


@app.command("check")
def check(
    file: Annotated[
        Path,
        typer.Argument(metavar="FILE", help="The CSV file to check.", show_default=False),
    ],
    report: Annotated[
        Path | None,
        typer.Option(
            "--report",
            "-r",
            help="Where to write the report (default: <file name>.rapport.csv next to it).",
            dir_okay=False,
        ),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Check a file without changing anything (rules needing no database); write its report.

    Exit code: 0 no ERREUR, 1 at least one line in ERREUR, 2 file rejected.
    """
    # The rules and the report only for this command: `--help` starts without them.
    from profilesync.fileformat.check import check_file  # noqa: PLC0415
    from profilesync.fileformat.report import default_report_path  # noqa: PLC0415

    settings = load_settings(config)
    report_path = report if report is not None else default_report_path(file)
    if not file.is_file():
        raise CommandRejected(f"file not found or unreadable: {file}")
    if report_path.exists() and report_path.resolve() == file.resolve():
        raise CommandRejected(f"the report would overwrite the checked file: {report_path}")
    try:
        result = check_file(file, settings=settings, clock=SystemClock(), report_path=report_path)
    except OSError as exc:  # reading the file is InputUnreadable: this is the report
        raise CommandRejected(
            f"cannot write the report {report_path}: {exc.strerror or exc}"
        ) from exc
    if result.rejected_reason is not None:
        typer.echo(f"report: {result.report_path}")
        raise CommandRejected(f"file rejected: {result.rejected_reason}")
    typer.echo(result.summary.line())
    typer.echo(f"report: {result.report_path}")
    raise typer.Exit(result.exit_code)
