"""Daemon commands: `run`, `status`, `rerun`, `jobs run|list`, `check-config`."""

from __future__ import annotations

import json
from typing import Annotated
from zoneinfo import ZoneInfo

import typer

from profilesync import logsetup
from profilesync.cli.common import CommandRejected, ConfigOption, sessions
from profilesync.clock import SystemClock
from profilesync.config import hashing
from profilesync.config import load as load_settings
from profilesync.errors import EXIT_REJECTED

app = typer.Typer()
jobs_app = typer.Typer(help="Scheduled jobs: list them, run one now.", no_args_is_help=True)
app.add_typer(jobs_app, name="jobs")


@app.command("run")
def run(
    config: ConfigOption = None,
    once: Annotated[
        bool, typer.Option("--once", help="Process what is waiting, run the due jobs, then exit.")
    ] = False,
    log_format: Annotated[
        str | None, typer.Option("--log-format", help="text or json (journald, ELK).")
    ] = None,
) -> None:
    """The daemon: watch the inbox and run the scheduled jobs (in the foreground)."""
    # watchdog is imported only for this command
    from profilesync.service import daemon as service  # noqa: PLC0415
    from profilesync.service import inbox, jobs  # noqa: PLC0415
    from profilesync.store.passwords import Hasher  # noqa: PLC0415

    settings = load_settings(config)
    fmt = log_format or settings.daemon.log_format
    if fmt not in {"text", "json"}:
        raise CommandRejected(f"--log-format must be text or json, not {fmt!r}")
    logsetup.configure(fmt, settings.daemon.log_level)
    jobs.check_schedules(settings)
    with sessions(settings) as session_factory, Hasher(hashing(settings)) as hasher:
        if not once:
            code = service.Daemon(settings, session_factory, hasher=hasher).run()
            raise typer.Exit(code)
        tracker = inbox.StabilityTracker(settings.daemon.stable_seconds, trust_mtime=True)
        daemon = service.Daemon(settings, session_factory, stability=tracker, hasher=hasher)
        result = daemon.run_once()
    typer.echo(
        f"{len(result.files)} file(s) processed, {result.waiting} still being written, "
        f"{len(result.jobs)} job(s) run"
    )


@app.command("status")
def status_cmd(
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output (monitoring).")] = False,
) -> None:
    """Status: is the daemon alive, files waiting, latest runs, directory backlog, jobs."""
    from profilesync.service import status  # noqa: PLC0415
    from profilesync.store.db import DatabaseError  # noqa: PLC0415

    settings = load_settings(config)
    # Missing, unmigrated or down, the database is one line of the status, not a refusal to
    # answer.
    try:
        with sessions(settings, migrated=False) as session_factory:
            report = status.gather(settings, session_factory, SystemClock())
    except DatabaseError as exc:
        report = status.gather(settings, None, SystemClock(), database_error=str(exc))
    if as_json:
        typer.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        typer.echo(status.render(report, ZoneInfo(settings.daemon.timezone)))
    raise typer.Exit(0 if report.alive and not report.database_error else 1)


@app.command("rerun")
def rerun_cmd(
    run_id: Annotated[int, typer.Argument(metavar="RUN", help="Run number.")],
    config: ConfigOption = None,
) -> None:
    """Process a run again from its private copy (a new run, linked by rerun_of)."""
    from profilesync.service import rerun  # noqa: PLC0415
    from profilesync.service.driver import Driver  # noqa: PLC0415
    from profilesync.store.passwords import Hasher  # noqa: PLC0415

    settings = load_settings(config)
    logsetup.configure(settings.daemon.log_format, settings.daemon.log_level)
    with sessions(settings) as session_factory, Hasher(hashing(settings)) as hasher:
        driver = Driver(settings, session_factory, SystemClock(), hasher=hasher)
        result = rerun.rerun(driver, run_id)
    typer.echo(f"run {result.run_id} ({result.file_name}): {result.status}")


@jobs_app.command("run")
def jobs_run(
    name: Annotated[str, typer.Argument(help="validity, directory_sync, export or prune.")],
    config: ConfigOption = None,
) -> None:
    """Run a job now (under the same lease as the daemon)."""
    from profilesync.service import jobs  # noqa: PLC0415
    from profilesync.service.heartbeat import identity  # noqa: PLC0415

    settings = load_settings(config)
    logsetup.configure(settings.daemon.log_format, settings.daemon.log_level)
    with sessions(settings) as session_factory:
        ctx = jobs.JobContext(settings, session_factory, SystemClock(), identity())
        result = jobs.run_leased(name, ctx, force=True)
    typer.echo(f"{name}: {result.status}: {result.summary}")
    raise typer.Exit(0 if result.status == "ok" else 1)


@jobs_app.command("list")
def jobs_list(config: ConfigOption = None) -> None:
    """List the jobs, their last run and their next one."""
    from profilesync.service import status  # noqa: PLC0415

    settings = load_settings(config)
    with sessions(settings) as session_factory:
        report = status.gather(settings, session_factory, SystemClock())
    typer.echo(status.render_jobs(report, ZoneInfo(settings.daemon.timezone)))


@app.command("check-config")
def check_config(config: ConfigOption = None) -> None:
    """Check the configuration: folders, database, directory."""
    from profilesync.service import checkconfig  # noqa: PLC0415

    settings = load_settings(config)
    problems = 0
    for check in checkconfig.run_checks(settings):
        typer.echo(f"{check.label} {check.what}: {check.detail}")
        problems += not check.ok
    if problems:
        typer.echo(f"{problems} problem(s)", err=True)
        raise typer.Exit(EXIT_REJECTED)
