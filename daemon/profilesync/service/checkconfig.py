"""`profilesync check-config`: is this configuration usable, before systemd finds out.

Each check is independent and says what it looked at, so one run lists every problem.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from ldap3 import Connection

from profilesync.config import ConfigError, LdapSettings, Settings, hashing
from profilesync.directory import canary, containers, servers
from profilesync.directory import conn as conn_mod
from profilesync.directory.tree import Tree
from profilesync.service import jobs
from profilesync.store import db
from profilesync.store.model import Referent


@dataclass(frozen=True)
class Check:
    what: str
    ok: bool
    detail: str
    # Works, but an operator should look: e.g. a folder other users may write into.
    warning: bool = False

    @classmethod
    def warn(cls, what: str, detail: str) -> Check:
        return cls(what, True, detail, warning=True)

    @property
    def label(self) -> str:
        return "FAIL" if not self.ok else "WARN" if self.warning else "ok  "


def _writable(name: str, path: Path) -> Check:
    """Writable, or creatable by the daemon at start: a check creates nothing."""
    what = f"[paths] {name}"
    if not path.exists():
        parent = next((p for p in path.parents if p.exists()), None)
        if parent is None or not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
            return Check(what, False, f"{path} does not exist and cannot be created there")
        return Check(what, True, f"{path} does not exist yet: the daemon creates it at start")
    try:
        with tempfile.NamedTemporaryFile(dir=path, prefix=".check-config-"):
            pass
    except OSError as exc:
        return Check(what, False, f"{path} is not writable: {exc.strerror}")
    return Check(what, True, f"{path.resolve()} writable")


def _login_folders(inbox: Path) -> Check:
    """The claim renames files out of each `inbox/<login>/`: each must be writable by us."""
    if not inbox.exists():
        return Check("inbox folders", True, "no inbox yet, so no login folder")
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


def _folder_permissions(settings: Settings) -> Check:
    """Each référent must be the only one able to write in their folder (SPEC §6): a folder
    or an inbox root writable by every user lets anyone drop a file in a référent's name,
    or create a folder that resembles a login. Group access is the share's business
    (docs/operations.md); "others" never need it."""
    inbox = settings.paths.inbox
    try:
        folders = [inbox, *(p for p in inbox.iterdir() if p.is_dir())]
        open_to_all = sorted(
            (str(p.relative_to(inbox.parent)) for p in folders if p.stat().st_mode & 0o002),
        )
    except OSError:  # the inbox check above already says why
        return Check("inbox permissions", True, "not checked (inbox unreadable)")
    if open_to_all:
        return Check.warn(
            "inbox permissions",
            f"writable by every user: {', '.join(open_to_all)} — chmod o-w "
            "(docs/operations.md, « Dossiers des référents »)",
        )
    return Check("inbox permissions", True, "no folder writable by every user")


def _stranger_folders(settings: Settings) -> Check:
    """Folders of the inbox whose name is no référent's login, exactly (SPEC §6): their
    files are refused, so a folder made for a référent with a typo is worth a look."""
    try:
        names = {
            p.name
            for p in settings.paths.inbox.iterdir()
            if p.is_dir() and not p.name.startswith(".")
        }
        engine = db.make_engine(settings.database.url, create=False)
        try:
            with engine.connect() as conn:
                logins = set(conn.execute(sa.select(Referent.login)).scalars())
        finally:
            engine.dispose()
    except (OSError, sa.exc.SQLAlchemyError, db.DatabaseError):
        return Check("inbox folder names", True, "not checked (inbox or database unreadable)")
    strangers = sorted(names - logins)
    if strangers:
        shown = ", ".join(repr(n) for n in strangers)
        return Check.warn(
            "inbox folder names",
            f"no référent has the login {shown} exactly: files dropped there are refused",
        )
    return Check("inbox folder names", True, f"{len(names)} folder(s), each a référent's login")


def _same_filesystem(settings: Settings) -> Check:
    """The claim is a rename from inbox/ into state/work/: one filesystem, or it fails."""
    try:
        same = _device(settings.paths.inbox) == _device(settings.paths.state)
    except OSError as exc:
        return Check("inbox and state", False, f"cannot stat: {exc.strerror}")
    if not same:
        return Check(
            "inbox and state",
            False,
            "inbox and state are on different filesystems: the claim (rename) needs one",
        )
    return Check("inbox and state", True, "same filesystem")


def _device(path: Path) -> int:
    """The filesystem `path` is or will be on (its nearest existing folder's)."""
    existing = next(p for p in (path, *path.parents) if p.exists())
    return existing.stat().st_dev


def _database(settings: Settings) -> Check:
    try:
        engine = db.make_engine(settings.database.url, create=False)
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
    """Bind, which server, the base DN, the containers, writing, then the canary.

    One line each, and each FAIL says the fix. The containers are created when missing,
    as the push would create them; the write probe adds and removes an entry under each;
    the canary proves on the server that a stored hash never binds.
    """
    s = settings.ldap
    try:
        conn = conn_mod.connect(s, pipelined=False)
    except conn_mod.DirectoryUnavailable as exc:
        yield Check("[ldap]", False, f"{exc}: check [ldap] url, bind_dn and the bind password")
        return
    try:
        yield Check("[ldap]", True, f"bound to {s.endpoint} as {s.bind_dn or 'anonymous'}")
        chosen = yield from _server_check(conn, s)
        if chosen is None:
            return
        tree = Tree.from_settings(s)
        for what, step in _TREE_STEPS:
            try:
                detail = step(conn, tree)
            except containers.ContainerMissing as exc:
                yield Check(what, False, str(exc))
                return
            yield Check(what, True, detail)
        verdict = canary.probe(conn, s, chosen, hashing(settings))
        yield Check("[ldap] password canary", verdict.ok, verdict.detail)
    except conn_mod.DirectoryUnavailable as exc:
        yield Check("[ldap]", False, str(exc))
    finally:
        conn_mod.close(conn)


def _base(conn: Connection, tree: Tree) -> str:
    containers.require_base(conn, tree)
    return f"{tree.base_dn} exists"


def _containers(conn: Connection, tree: Tree) -> str:
    created = containers.ensure(conn, tree)
    done = f"created {', '.join(created)}" if created else "present"
    return f"{tree.people_dn}, {tree.establishments_dn}: {done}"


def _write(conn: Connection, tree: Tree) -> str:
    containers.probe_write(conn, tree)
    return "the bind DN may add and delete entries there"


# In order: each needs the one before; the first that fails ends the [ldap] checks.
_TREE_STEPS: tuple[tuple[str, Callable[[Connection, Tree], str]], ...] = (
    ("[ldap] base DN", _base),
    ("[ldap] containers", _containers),
    ("[ldap] write access", _write),
)


def _server_check(
    conn: Connection, s: LdapSettings
) -> Generator[Check, None, servers.ServerProfile | None]:
    """The server profile `[ldap] server` names or the root DSE shows; None after a FAIL."""
    try:
        detected = servers.identify(conn_mod.read_root_dse(conn, s.timeout_seconds))
    except servers.UnknownServer as exc:
        detected = None
        if servers.configured(s.server) is None:
            yield Check("[ldap] server", False, str(exc))
            return None
    chosen = servers.configured(s.server) or detected
    assert chosen is not None
    if detected is not None and detected != chosen:
        yield Check(
            "[ldap] server",
            False,
            f'[ldap] server = "{s.server}" but the root DSE says {detected.name}: '
            f'set server = "{detected.name}" or "auto"',
        )
        return None
    how = "configured" if servers.configured(s.server) else "detected from the root DSE"
    yield Check("[ldap] server", True, f"{chosen.name} ({how})")
    return chosen


# OWASP's argon2id minimums (memory KiB, iterations), each with parallelism 1: any one met.
OWASP_ARGON2 = ((47_104, 1), (19_456, 2), (12_288, 3), (9_216, 4), (7_168, 5))
OWASP_PBKDF2_SHA512 = 210_000


def _password_cost(settings: Settings) -> Check:
    """A cheap hash makes a stolen database (or backup) quick to crack."""
    p = hashing(settings)
    if p.scheme == "pbkdf2-sha512":
        if p.pbkdf2_iterations >= OWASP_PBKDF2_SHA512:
            return Check("[passwords]", True, "PBKDF2-SHA512 iterations at or above OWASP's")
        return Check.warn(
            "[passwords]",
            f"PBKDF2-SHA512 with {p.pbkdf2_iterations} iterations is below OWASP's minimum "
            f"({OWASP_PBKDF2_SHA512}): leaked hashes would be cheap to crack",
        )
    if any(p.argon2_memory_kib >= m and p.argon2_time_cost >= t for m, t in OWASP_ARGON2):
        return Check("[passwords]", True, "argon2id cost at or above OWASP's minimum")
    return Check.warn(
        "[passwords]",
        f"argon2id cost m={p.argon2_memory_kib} KiB, t={p.argon2_time_cost} is below OWASP's "
        "minimum (m=19456, t=2): leaked hashes would be cheap to crack",
    )


def _secret_file(label: str, name: str) -> Check | None:
    """A file holding a password (the directory's bind, the SMTP login): the service
    user's alone."""
    if not name:
        return None
    try:
        mode = Path(name).stat().st_mode
    except OSError:
        return None  # the section's own check says it cannot be read
    if mode & 0o007:
        return Check.warn(label, f"{name} is readable by every user: chmod 600 {name}")
    return Check(label, True, f"{name} not readable by other users")


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
    yield _folder_permissions(settings)
    yield _same_filesystem(settings)
    yield _schedules(settings)
    yield _password_cost(settings)
    for label, name in (
        ("bind password file", settings.ldap.bind_password_file),
        ("[notify] credentials file", settings.notify.credentials_file),
    ):
        secret_file = _secret_file(label, name)
        if secret_file is not None:
            yield secret_file
    yield _database(settings)
    yield _stranger_folders(settings)
    if settings.ldap.url:
        yield from _ldap(settings)
    else:
        yield Check("[ldap]", True, "url empty: no directory, changes queue up")
