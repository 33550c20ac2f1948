"""`profilesync check-config`: is this configuration usable, before systemd finds out.

Each check is independent and says what it looked at, so one run lists every problem.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from profilesync.config import ConfigError, Settings, hashing
from profilesync.directory import canary, containers, servers
from profilesync.directory import conn as conn_mod
from profilesync.directory.tree import Tree
from profilesync.service import jobs
from profilesync.store import db


@dataclass(frozen=True)
class Check:
    what: str
    ok: bool
    detail: str


def _writable(name: str, path: Path) -> Check:
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".check-config-"):
            pass
    except OSError as exc:
        return Check(f"[paths] {name}", False, f"{path} is not writable: {exc.strerror}")
    return Check(f"[paths] {name}", True, f"{path.resolve()} writable")


def _login_folders(inbox: Path) -> Check:
    """The claim renames files out of each `inbox/<login>/`: each must be writable by us."""
    try:
        folders = [p for p in inbox.iterdir() if p.is_dir() and not p.name.startswith(".")]
    except OSError as exc:
        return Check("inbox folders", False, f"cannot list {inbox}: {exc.strerror}")
    blocked = sorted(p.name for p in folders if not os.access(p, os.W_OK | os.X_OK))
    if blocked:
        return Check(
            "inbox folders", False, f"not writable (files cannot be claimed): {', '.join(blocked)}"
        )
    return Check("inbox folders", True, f"{len(folders)} login folder(s) writable")


def _same_filesystem(settings: Settings) -> Check:
    """The claim is a rename from inbox/ into state/work/: one filesystem, or it fails."""
    try:
        same = settings.paths.inbox.stat().st_dev == settings.paths.state.stat().st_dev
    except OSError as exc:
        return Check("inbox and state", False, f"cannot stat: {exc.strerror}")
    if not same:
        return Check(
            "inbox and state",
            False,
            "inbox and state are on different filesystems: the claim (rename) needs one",
        )
    return Check("inbox and state", True, "same filesystem")


def _database(settings: Settings) -> Check:
    try:
        engine = db.make_engine(settings.database.url)
        try:
            db.require_current(engine)
        finally:
            engine.dispose()
    except db.DatabaseError as exc:
        return Check("[database]", False, str(exc))
    except Exception as exc:  # a driver error that db did not classify
        return Check("[database]", False, f"{type(exc).__name__}: {exc}".splitlines()[0])
    return Check("[database]", True, f"{db.display_url(settings.database.url)} reachable, migrated")


def _ldap(settings: Settings) -> Iterator[Check]:
    """Bind, which server, the containers, then the canary: a stored hash never binds.

    The canary writes (and removes) a probe entry under `ou=people`, which also proves
    that the bind DN may write there; the containers are created when missing, as the
    push would create them.
    """
    s = settings.ldap
    try:
        conn = conn_mod.connect(s, pipelined=False)
    except conn_mod.DirectoryUnavailable as exc:
        yield Check("[ldap]", False, str(exc))
        return
    try:
        yield Check("[ldap]", True, f"bound to {s.url} as {s.bind_dn or 'anonymous'}")
        try:
            detected = servers.identify(conn_mod.read_root_dse(conn, s.timeout_seconds))
        except servers.UnknownServer as exc:
            detected = None
            if servers.configured(s.server) is None:
                yield Check("[ldap] server", False, str(exc))
                return
        chosen = servers.configured(s.server) or detected
        assert chosen is not None
        if detected is not None and detected != chosen:
            yield Check(
                "[ldap] server",
                False,
                f'[ldap] server = "{s.server}" but the root DSE says {detected.name}: '
                f'set server = "{detected.name}" or "auto"',
            )
            return
        how = "configured" if servers.configured(s.server) else "detected from the root DSE"
        yield Check("[ldap] server", True, f"{chosen.name} ({how})")
        try:
            created = containers.ensure(conn, Tree.from_settings(s))
        except containers.ContainerMissing as exc:
            yield Check("[ldap] containers", False, str(exc))
            return
        tree = Tree.from_settings(s)
        done = f"created {', '.join(created)}" if created else "present"
        yield Check(
            "[ldap] containers", True, f"{tree.people_dn}, {tree.establishments_dn}: {done}"
        )
        verdict = canary.probe(conn, s, chosen, hashing(settings))
        yield Check("[ldap] password canary", verdict.ok, verdict.detail)
    except conn_mod.DirectoryUnavailable as exc:
        yield Check("[ldap]", False, str(exc))
    finally:
        conn_mod.close(conn)


def _schedules(settings: Settings) -> Check:
    try:
        jobs.check_schedules(settings)
    except ConfigError as exc:
        return Check("[daemon]/[jobs]", False, str(exc))
    detail = f"time zone {settings.daemon.timezone}, export at {settings.jobs.export_time}"
    return Check("[daemon]/[jobs]", True, detail)


def run_checks(settings: Settings) -> Iterator[Check]:
    for name in ("inbox", "outbox", "state"):
        yield _writable(name, getattr(settings.paths, name))
    yield _login_folders(settings.paths.inbox)
    yield _same_filesystem(settings)
    yield _schedules(settings)
    yield _database(settings)
    if settings.ldap.url:
        yield from _ldap(settings)
    else:
        yield Check("[ldap]", True, "url empty: no directory, changes queue up")
