"""`import`, `approve`, `runs`, `show`, `export`: thin commands over importer and exports."""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer

from profilesync.cli.common import CommandRejected, ConfigOption, sessions
from profilesync.clock import SystemClock, parse_since
from profilesync.config import load as load_settings
from profilesync.errors import EXIT_LINE_ERRORS, EXIT_OK, EXIT_REJECTED
from profilesync.fileformat import messages
from profilesync.service.status import local_time
from profilesync.store import admin, exports, importer
from profilesync.store.importer import RunNotFound
from profilesync.store.model import ImportRun, RunStatus

app = typer.Typer()


@contextmanager
def _progress_bar() -> Iterator[Callable[[int, int], None] | None]:
    """A rich progress bar on a terminal; nothing when the output is a pipe or a file."""
    if not sys.stdout.isatty():
        yield None
        return
    from rich.progress import Progress  # noqa: PLC0415 - only on a terminal

    with Progress(transient=True) as bar:
        task = bar.add_task("lines", total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def _exit_for(result: importer.RunResult) -> None:
    if result.status is RunStatus.DONE:
        typer.echo(result.summary.line())
        typer.echo(f"report: {result.report_path}")
        raise typer.Exit(EXIT_LINE_ERRORS if result.summary.erreur else EXIT_OK)
    typer.echo(f"report: {result.report_path}")
    if result.status is RunStatus.AWAITING_APPROVAL:
        # Not an error: the file waits for an operator; the reason says how to approve it.
        typer.echo(f"file held for approval: {result.reason}")
        typer.echo(f"approve it with: profilesync approve {result.run_id}")
        typer.echo(f"or refuse it with: profilesync reject {result.run_id} --reason TEXT")
        raise typer.Exit(EXIT_REJECTED)
    # The reason is the report's Ligne 0 text, in French like everything a référent reads.
    raise CommandRejected(f"file rejected: {result.reason}")


@app.command("import")
def import_cmd(
    file: Annotated[Path, typer.Argument(help="The CSV file to import.", dir_okay=False)],
    submitter: Annotated[
        str, typer.Option("--as", help="Login of the référent the file is imported for.")
    ],
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Write the report of a real import, change nothing."),
    ] = False,
    report: Annotated[
        Path | None,
        typer.Option("--report", help="Report path (default: <name>.rapport.csv)."),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Import a file now, as the daemon would (report, database, directory changes queued)."""
    settings = load_settings(config)
    if not file.is_file():
        raise CommandRejected(f"file not found: {file}")
    with sessions(settings) as sf, _progress_bar() as progress:
        result = importer.import_file(
            file,
            admin.login_key(submitter),  # an operator may type `JDupont`
            settings=settings,
            session_factory=sf,
            clock=SystemClock(),
            dry_run=dry_run,
            report_path=report,
            progress=progress,
        )
    _exit_for(result)


@app.command("approve")
def approve_cmd(
    run: Annotated[int, typer.Argument(help="Number of the import awaiting approval.")],
    approver: Annotated[
        str | None, typer.Option("--by", help="Who approves (default: the system user).")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Approve an import held back by the mass-deletion guard."""
    from profilesync.service import mail  # noqa: PLC0415 - the CLI starts fast (11.4)

    settings = load_settings(config)
    with sessions(settings) as sf, _progress_bar() as progress:
        result = importer.approve_run(
            run,
            approver=approver or getpass.getuser(),
            settings=settings,
            session_factory=sf,
            clock=SystemClock(),
            progress=progress,
        )
        mail.Mailer(settings.notify).notify_run(sf, run, mail.Event.APPROVED)
    _exit_for(result)


@app.command("reject")
def reject_cmd(
    run: Annotated[int, typer.Argument(help="Number of the import awaiting approval.")],
    reason: Annotated[
        str, typer.Option("--reason", help="Why, in French: the référent reads it in the report.")
    ],
    refuser: Annotated[
        str | None, typer.Option("--by", help="Who refuses (default: the system user).")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Refuse an import held back by the mass-deletion guard: nothing is applied, the
    référent's report says it was refused and why, the file is archived."""
    from profilesync.service import archive, mail  # noqa: PLC0415 - the CLI starts fast (11.4)

    text = _one_line(reason)
    if not text:
        raise CommandRejected("give the reason the référent will read with --reason")
    settings = load_settings(config)
    with sessions(settings) as sf:
        result = importer.refuse_run(
            run,
            reason=text,
            refuser=refuser or getpass.getuser(),
            settings=settings,
            session_factory=sf,
            clock=SystemClock(),
        )
        archive.finish(run, settings, sf)
        mail.Mailer(settings.notify).notify_run(sf, run, mail.Event.REFUSED)
    typer.echo(f"run {run} refused; report: {result.report_path}")


_REASON_MAX = 500


def _one_line(text: str) -> str:
    """The reason as one line of at most 500 characters: no control character reaches the
    report, and the message adds its own final period."""
    words = "".join(c if c.isprintable() else " " for c in text).split()
    return " ".join(words)[:_REASON_MAX].rstrip(" .")


@app.command("runs")
def runs_cmd(  # noqa: PLR0917 - typer passes options by keyword
    limit: Annotated[int, typer.Option("--limit", help="Number of imports shown.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output (a list).")] = False,
    submitter: Annotated[
        str | None, typer.Option("--as", help="Only the files of this référent (login).")
    ] = None,
    status: Annotated[
        str | None, typer.Option("--status", help="Only runs in this status (done, rejected…).")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only runs from this date (2026-12-01) or time.")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """List the latest imports: status, counts, duration."""
    from profilesync.store import lookup  # noqa: PLC0415 - fast start (issue 11.4)

    settings = load_settings(config)
    tz = ZoneInfo(settings.daemon.timezone)
    start = None if since is None else parse_since(since, tz)
    with sessions(settings) as sf, sf() as session:
        rows = lookup.runs(session, submitter=submitter, status=status, since=start, limit=limit)
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for r in rows:
        took = "-" if r["duration_seconds"] is None else f"{r['duration_seconds']:.1f}s"
        typer.echo(
            f"{r['id']:>6}  {local_time(r['created_at'], tz)}  "
            f"{r['status']:<17} {r['submitter']:<12} "
            f"{r['total']:>7} ln {r['ok']:>7} OK {r['alerte']:>5} AL {r['erreur']:>5} ER "
            f"{took:>8}  {r['file']}"
        )


@app.command("show")
def show_cmd(
    run: Annotated[int, typer.Argument(help="Import number.")],
    config: ConfigOption = None,
) -> None:
    """Show an import and the lines of its report."""
    settings = load_settings(config)
    with sessions(settings) as sf, sf() as session:
        found = session.get(ImportRun, run)
        if found is None:
            raise RunNotFound(f"no import run {run}")
        for key, value in found.as_dict().items():
            if value is not None:
                typer.echo(f"{key}: {value}")
        if found.status == RunStatus.AWAITING_APPROVAL:
            typer.echo(f"0;{messages.HELD_CODE};{found.reason}")
        elif found.status == RunStatus.REJECTED:
            typer.echo(f"0;ERREUR;{found.reason}")
        for outcome in importer.outcomes(session, run):
            typer.echo(f"{outcome.line};{outcome.code};{' | '.join(outcome.messages)}")


@app.command("export")
def export_cmd(
    et: Annotated[str, typer.Option("--et", help="Finess ET of the establishment.")],
    output: Annotated[
        Path | None,
        typer.Option("--output", help="Output file (default: outbox/exports/<ET>/…)."),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Export an establishment's profiles now (a reusable import file)."""
    settings = load_settings(config)
    with sessions(settings) as sf:
        result = exports.export_establishment(
            sf, et, output, SystemClock(), outbox=settings.paths.outbox
        )
    typer.echo(f"{result.profiles} profiles exported: {result.path}")
