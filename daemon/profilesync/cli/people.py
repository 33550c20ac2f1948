"""Operator lookups: `person show|find`, `team list`, `establishment show`, `audit`.

The helpdesk's commands (issue 11): a thin layer over `store.lookup`, `store.audit` and
`directory.lookup`, text for people and `--json` for scripts. The library modules import
SQLAlchemy, so they are imported inside the commands: `--help` stays fast.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo

import typer

from profilesync.cli.admin import establishment_app
from profilesync.cli.common import ConfigOption
from profilesync.clock import SystemClock, parse_since
from profilesync.config import load as load_settings

if TYPE_CHECKING:
    from profilesync.directory.lookup import DirectoryView
    from profilesync.store.audit import AuditEntry
    from profilesync.store.lookup import EstablishmentView, PersonView

app = typer.Typer()
person_app = typer.Typer(help="Look up a person: account, profiles, directory entry, runs.")
team_app = typer.Typer(help="The teams of an establishment.")
app.add_typer(person_app, name="person", no_args_is_help=True)
app.add_typer(team_app, name="team", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
EtOption = Annotated[str, typer.Option("--et", help="Finess ET of the establishment.")]


@person_app.command("show")
def person_show(
    key: Annotated[str, typer.Argument(help="Identifiant (login), or RPPS for a doctor.")],
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Everything about one person: account, lock, profiles, directory entry, recent runs."""
    from profilesync.cli.common import sessions  # noqa: PLC0415 - fast start (issue 11.4)
    from profilesync.directory.lookup import read_person  # noqa: PLC0415
    from profilesync.store import lookup  # noqa: PLC0415

    settings = load_settings(config)
    with sessions(settings) as sf, sf() as session:
        view = lookup.person(
            session, key, now=SystemClock().now(), max_age_days=settings.passwords.max_age_days
        )
    entry = read_person(settings, view.key)
    if as_json:
        _json({**view.as_dict(), "directory": entry.as_dict()})
        return
    tz = ZoneInfo(settings.daemon.timezone)
    _print_person(view, tz)
    _print_directory(entry)
    _print_runs(view, tz)


@person_app.command("find")
def person_find(
    text: Annotated[str, typer.Argument(help="Part of a Nom, Prénom, login or email.")],
    limit: Annotated[int, typer.Option("--limit", min=1, help="Most people shown.")] = 50,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Find people by a fragment of their names, login or email (case and accents ignored)."""
    from profilesync.cli.common import sessions  # noqa: PLC0415 - fast start (issue 11.4)
    from profilesync.store import lookup  # noqa: PLC0415

    with sessions(load_settings(config)) as sf, sf() as session:
        hits, total = lookup.find_people(session, text, limit)
    if as_json:
        _json({"total": total, "people": [vars(h) for h in hits]})
    elif not hits:
        typer.echo(f"no person matches {text!r}")
    else:
        _table(
            ("KEY", "NOM", "PRENOM", "EMAIL", "LOCKED"),
            [(h.key, h.nom, h.prenom, h.email or "-", _yes(h.locked)) for h in hits],
        )
        if total > len(hits):
            typer.echo(f"{total} people match, {len(hits)} shown: narrow the text or --limit")
    if not hits:
        raise typer.Exit(1)


@team_app.command("list")
def team_list(et: EtOption, as_json: JsonOption = False, config: ConfigOption = None) -> None:
    """The teams of an establishment with their profiles counted by state."""
    from profilesync.cli.common import sessions  # noqa: PLC0415 - fast start (issue 11.4)
    from profilesync.store import lookup  # noqa: PLC0415

    with sessions(load_settings(config)) as sf, sf() as session:
        found = lookup.teams(session, et)
    if as_json:
        _json([{"name": t.name, "created_at": t.created_at, "states": t.states} for t in found])
        return
    if not found:
        typer.echo("no team")
        return
    _table(
        ("TEAM", "PROFILES"),
        [(t.name, _states(t.states) or "-") for t in found],
    )


@establishment_app.command("show")
def establishment_show(
    et: Annotated[str, typer.Argument(help="Finess ET.")],
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """An establishment: its référents, teams, and profiles counted by role and state."""
    from profilesync.cli.common import sessions  # noqa: PLC0415 - fast start (issue 11.4)
    from profilesync.store import lookup  # noqa: PLC0415

    with sessions(load_settings(config)) as sf, sf() as session:
        view = lookup.establishment(session, et)
    if as_json:
        _json(view.as_dict())
        return
    _print_establishment(view)


@app.command("audit")
def audit_cmd(  # noqa: PLR0917 - typer passes options by keyword
    person: Annotated[
        str | None, typer.Option("--person", help="Identifiant, or RPPS of a doctor.")
    ] = None,
    run: Annotated[int | None, typer.Option("--run", help="Import run number.")] = None,
    et: Annotated[str | None, typer.Option("--et", help="Finess ET.")] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="From this date (2026-12-01) or time.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Most rows (the newest).")] = 200,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Who changed what, when, from which file and line (never a password)."""
    from profilesync.cli.common import sessions  # noqa: PLC0415 - fast start (issue 11.4)
    from profilesync.store import audit  # noqa: PLC0415

    settings = load_settings(config)
    tz = ZoneInfo(settings.daemon.timezone)
    which = audit.AuditFilter(
        person=person,
        run=run,
        et=et,
        since=None if since is None else parse_since(since, tz),
        limit=limit,
    )
    with sessions(settings) as sf, sf() as session:
        entries, more = audit.trail(session, which)
    if as_json:
        _json([e.as_dict() for e in entries])
        return
    if not entries:
        typer.echo("no audited change matches")
        return
    for entry in entries:
        typer.echo(_audit_line(entry, tz))
    if more:
        typer.echo(f"(only the newest {limit} shown: narrow with --since or raise --limit)")


# -- text rendering -------------------------------------------------------------------------


def _print_person(view: PersonView, tz: ZoneInfo) -> None:
    kind = f"doctor, RPPS {view.rpps}" if view.doctor else "non-doctor"
    typer.echo(f"{view.prenom} {view.nom} ({view.key}, {kind})")
    typer.echo(f"  email:     {view.email or '-'}")
    state = "expired" if view.password_expired else "valid"
    pending = ", not yet written to the directory" if view.password_pending else ""
    password = "not set" if not view.password_set else f"set {_when(view.password_set_at, tz)}"
    typer.echo(f"  password:  {password} ({state}{pending})")
    lock = f"yes: {view.locked_reason}" if view.locked else "no"
    typer.echo(f"  locked:    {lock}")
    typer.echo(f"profiles ({len(view.profiles)}):")
    if not view.profiles:
        typer.echo("  none")
    for p in view.profiles:
        typer.echo(
            f"  {p.et} {p.establishment or ''}  {p.role} ({p.role_label})"
            f"  team: {p.team or '-'}  {p.state_label}"
            f"  {_day(p.debut)} → {_day(p.fin)}"
        )
    if view.queued:
        typer.echo(f"directory changes queued ({len(view.queued)}):")
        for c in view.queued:
            error = f": {c.last_error}" if c.last_error else ""
            typer.echo(
                f"  #{c.id} {c.status}, {c.attempts} attempt(s), "
                f"next {_when(c.next_attempt_at, tz)}{error}"
            )
    else:
        typer.echo("directory changes queued: none")


def _print_directory(entry: DirectoryView) -> None:
    if entry.status == "not-configured":
        typer.echo("directory: not configured ([ldap] url is empty); changes queue up")
        return
    if entry.status == "unreachable":
        typer.echo(f"directory: NOT REACHABLE, entry not read ({entry.error})")
        return
    if entry.status == "absent":
        typer.echo(f"directory: NO ENTRY {entry.dn}")
        return
    typer.echo(f"directory ({entry.server}): {entry.dn}")
    for name, vals in entry.attributes.items():
        if vals:
            typer.echo(f"  {name}: {', '.join(vals)}")
    typer.echo(f"  locked: {_yes(entry.locked)}")
    if entry.password_age:
        typer.echo(f"  password date attribute: {', '.join(entry.password_age)}")
    typer.echo(f"  groups ({len(entry.groups)}):")
    for group in entry.groups:
        typer.echo(f"    {group}")


def _print_runs(view: PersonView, tz: ZoneInfo) -> None:
    typer.echo(f"last runs that touched it ({len(view.runs)}):")
    if not view.runs:
        typer.echo("  none")
    for r in view.runs:
        typer.echo(
            f"  #{r['id']} {_when(datetime.fromisoformat(r['created_at']), tz)} "
            f"{r['submitter']} {r['file']} {r['status']}"
        )
    if view.flagged:
        typer.echo(f"lines naming it not applied as such, latest runs ({len(view.flagged)}):")
        for f in view.flagged:
            typer.echo(f"  #{f.run_id} {f.submitter} {f.file} line {f.line} {f.code}: {f.messages}")


def _print_establishment(view: EstablishmentView) -> None:
    typer.echo(f"{view.et} {view.name} (EJ {view.ej})".rstrip())
    typer.echo(f"  référents: {', '.join(view.referents) or '-'}")
    typer.echo(f"  teams: {view.teams}   accounts: {view.accounts}")
    if view.queued:
        typer.echo(f"  directory changes queued for its tree: {view.queued}")
    if not view.counts:
        typer.echo("  no profile")
        return
    _table(
        ("ROLE", "PROFILES"),
        [(role, _states(states)) for role, states in view.counts.items()],
        indent="  ",
    )


def _audit_line(entry: AuditEntry, tz: ZoneInfo) -> str:
    where = ""
    if entry.run_id is not None:
        where = f" run #{entry.run_id} {entry.file or '?'}"
        if entry.line is not None:
            where += f" line {entry.line}"
    what = entry.change_text()
    return (
        f"{_when(entry.at, tz)}  {entry.actor_kind} {entry.actor}{where}  "
        f"{entry.action} {entry.entity_key}" + (f"  {what}" if what else "")
    )


def _states(states: dict[str, int]) -> str:
    from profilesync.store.lookup import STATE_LABELS  # noqa: PLC0415 - fast start

    return ", ".join(f"{n} {STATE_LABELS.get(s, s)}" for s, n in sorted(states.items()))


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]], indent: str = "") -> None:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=False)]
    for row in (header, *rows):
        cells = [c.ljust(w) for c, w in zip(row, widths, strict=True)]
        typer.echo(indent + "  ".join(cells).rstrip())


def _json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=_iso))


def _iso(value: object) -> str:
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"not JSON: {type(value).__name__}")


def _when(moment: datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")


def _day(value: date | None) -> str:
    return "-" if value is None else value.strftime("%d/%m/%Y")


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"
