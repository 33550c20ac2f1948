"""Connecting to the directory and keeping many operations in flight on one connection.

With a durable slapd the disk is the floor, and only pipelining reaches it: ldap3's
ASYNC strategy sends a request without waiting for the previous answer; `Pipeline` keeps
at most `pipeline_window` of them outstanding (slapd drops a client with more than
`conn_max_pending` queued requests, 1000 by default).

The bind password comes from `LdapSettings.bind_password()` (environment or file) and
appears in no message: errors name the server and the bind DN, never the secret.
"""

from __future__ import annotations

import contextlib
import ssl
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ldap3 import ASYNC, BASE, LEVEL, NONE, SUBTREE, SYNC, Connection, Server, Tls
from ldap3.core.exceptions import LDAPException, LDAPResponseTimeoutError, LDAPStartTLSError

from profilesync.config import ConfigError, LdapSettings
from profilesync.directory.servers import ROOT_DSE_ATTRIBUTES, ServerProfile, configured, identify
from profilesync.errors import ProfilesyncError

SCOPES = {"base": BASE, "one": LEVEL, "sub": SUBTREE}
# Permissive modify (RFC-less, honoured by OpenLDAP and AD, not by 389-ds): adding a value
# that is there or deleting one that is not succeeds, which makes member updates idempotent.
PERMISSIVE_MODIFY = ("1.2.840.113556.1.4.1413", False, None)

# Result codes that say "try again later", not "this change is wrong".
RETRYABLE = {
    3,  # timeLimitExceeded
    11,  # adminLimitExceeded
    16,  # noSuchAttribute (entry changed under us)
    20,  # attributeOrValueExists (idem)
    32,  # noSuchObject (a parent not there yet, or the entry gone meanwhile)
    51,  # busy
    52,  # unavailable
    53,  # unwillingToPerform (read-only replica, shutting down)
    68,  # entryAlreadyExists (created meanwhile)
    80,  # other
}


class DirectoryUnavailable(ProfilesyncError):
    """The directory cannot be reached or dropped the connection: keep changes, retry later."""


class DirectoryNotConfigured(ProfilesyncError):
    """[ldap] url is empty: changes wait in the queue until a directory is configured."""


@dataclass(frozen=True)
class Result:
    """The outcome of one LDAP operation, as data."""

    code: int
    description: str
    message: str
    entries: tuple[dict[str, Any], ...] = ()

    @property
    def ok(self) -> bool:
        return self.code == 0

    @property
    def retryable(self) -> bool:
        return self.code in RETRYABLE

    def error(self) -> str:
        """A short text for `last_error` (server diagnostics never carry the password)."""
        text = f"{self.description} ({self.code})"
        return f"{text}: {self.message}"[:500] if self.message else text


def connect(settings: LdapSettings, *, pipelined: bool = True) -> Connection:
    """An open, bound connection: ASYNC for the worker, SYNC for paged reads of whole trees."""
    if not settings.url:
        raise DirectoryNotConfigured("[ldap] url is empty")
    try:
        password = settings.bind_password()
    except ConfigError as exc:
        raise DirectoryUnavailable(str(exc)) from None
    endpoint = settings.endpoint
    start_tls = settings.start_tls and not endpoint.ssl
    where = f"{endpoint} as {settings.bind_dn or 'anonymous'}"
    if start_tls and pipelined:
        # ASYNC does the StartTLS handshake in its receiver thread, where a bad certificate
        # kills the thread and leaves us waiting: check it first on a synchronous link.
        _probe_start_tls(settings, where)
    conn = Connection(
        _server(settings),
        user=settings.bind_dn or None,
        password=password or None,
        client_strategy=ASYNC if pipelined else SYNC,
        # No receive timeout on ASYNC: ldap3's receiver thread then spins forever on the
        # closed socket after unbind. `Pipeline` enforces the timeout itself.
        receive_timeout=None if pipelined else max(1, int(settings.timeout_seconds)),
        raise_exceptions=False,
        auto_referrals=False,
        return_empty_attributes=False,
    )
    try:
        conn.open()
        if start_tls:
            conn.start_tls()
            if pipelined:
                _await_async_tls(conn, settings.timeout_seconds)
        bound = conn.bind()
    except LDAPException as exc:
        _close(conn)
        raise DirectoryUnavailable(f"cannot reach {where}: {type(exc).__name__}") from None
    if not bound:
        # ASYNC connections leave `result` empty and put the description in last_error.
        description = (conn.result or {}).get("description") or conn.last_error or "refused"
        _close(conn)
        raise DirectoryUnavailable(f"bind to {where} refused: {description}")
    return conn


def server_profile(conn: Connection, settings: LdapSettings) -> ServerProfile:
    """The profile `[ldap] server` names, or the one the root DSE identifies ("auto").

    One base search of "" on the open connection (the server object is built with
    `get_info=NONE`: ldap3's own schema read costs a round trip per connection and
    more than we need).
    """
    chosen = configured(settings.server)
    if chosen is not None:
        return chosen
    return identify(read_root_dse(conn, settings.timeout_seconds))


def read_root_dse(conn: Connection, timeout: float) -> dict[str, list[str]]:
    """The root DSE's identifying attributes, on a SYNC or an ASYNC connection."""
    try:
        sent = conn.search("", "(objectClass=*)", BASE, attributes=ROOT_DSE_ATTRIBUTES)
        if conn.strategy.sync:
            response = conn.response if sent else []
        else:
            response, _ = conn.get_response(sent, timeout=max(1, int(timeout)))
    except LDAPException as exc:
        raise DirectoryUnavailable(f"cannot read the root DSE: {type(exc).__name__}") from None
    for entry in response or ():
        if entry.get("type") == "searchResEntry":
            return {name: list(values(entry, name)) for name in entry.get("raw_attributes", {})}
    raise DirectoryUnavailable("the directory did not return its root DSE")


def bind_code(settings: LdapSettings, dn: str, password: str) -> int:
    """The result code of a simple bind as `dn` on a fresh connection (0: accepted).

    For the canary: the password is one it made up; it is in no message.
    """
    conn = Connection(
        _server(settings),
        user=dn,
        password=password,
        client_strategy=SYNC,
        receive_timeout=max(1, int(settings.timeout_seconds)),
        raise_exceptions=False,
    )
    try:
        conn.open()
        if settings.start_tls and not settings.endpoint.ssl:
            conn.start_tls()
        if conn.bind():
            return 0
        return int((conn.result or {}).get("result", -1))
    except LDAPException as exc:
        raise DirectoryUnavailable(f"bind as {dn} failed: {type(exc).__name__}") from None
    finally:
        _close(conn)


def _server(settings: LdapSettings) -> Server:
    """The server `[ldap] url` names, from its parsed form.

    ldap3 is given the host and port apart, never the URL text: its own URL handling
    breaks on a trailing slash, and an IPv6 address or a socket path would be re-parsed.
    """
    endpoint = settings.endpoint
    tls = None
    if endpoint.ssl or settings.start_tls:
        tls = Tls(
            validate=ssl.CERT_REQUIRED,
            ca_certs_file=settings.ca_file or None,
            version=ssl.PROTOCOL_TLS_CLIENT,
        )
    if endpoint.ipc:
        # ldap3 takes a socket only as a URL, which it percent-decodes.
        return Server(str(endpoint), get_info=NONE, connect_timeout=settings.timeout_seconds)
    return Server(
        endpoint.host,
        port=endpoint.port,
        use_ssl=endpoint.ssl,
        tls=tls,
        get_info=NONE,
        connect_timeout=settings.timeout_seconds,
    )


def _probe_start_tls(settings: LdapSettings, where: str) -> None:
    conn = Connection(
        _server(settings),
        client_strategy=SYNC,
        receive_timeout=max(1, int(settings.timeout_seconds)),
        raise_exceptions=False,
    )
    try:
        conn.open()
        conn.start_tls()
    except LDAPException as exc:
        detail = str(exc).splitlines()[0][:200] if str(exc) else ""
        raise DirectoryUnavailable(
            f"StartTLS to {where} failed: {type(exc).__name__} {detail}".rstrip()
        ) from None
    finally:
        _close(conn)


def _await_async_tls(conn: Connection, timeout: float) -> None:
    """ldap3's ASYNC start_tls returns before the handshake: a bind sent now would go clear."""
    deadline = time.monotonic() + timeout
    while not conn.tls_started:
        if conn.closed or time.monotonic() > deadline:
            raise LDAPStartTLSError("StartTLS handshake failed")
        time.sleep(0.005)  # the receiver thread does the handshake; it signals nothing


def _close(conn: Connection) -> None:
    with contextlib.suppress(LDAPException, OSError):
        conn.unbind()
    # ldap3 keeps the socket of a failed connect() open: close it ourselves.
    sock = getattr(conn, "socket", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.close()


def close(conn: Connection) -> None:
    """Unbind, ignoring a connection that is already gone."""
    _close(conn)


Callback = Callable[[Result], None]


class Pipeline:
    """At most `window` operations outstanding on one ASYNC connection; results in order.

    Each operation has a callback called with its `Result` once it completes. Operations
    sent together may be executed by slapd in any order: a caller that needs a parent
    before its child calls `drain()` in between.
    """

    def __init__(
        self, conn: Connection, window: int, timeout: float, *, permissive: bool = True
    ) -> None:
        self._conn = conn
        # Only where the server honours it (OpenLDAP): 389 answers 20/16 regardless.
        self._controls = [PERMISSIVE_MODIFY] if permissive else None
        self._window = max(1, min(window, 900))
        self._timeout = timeout
        self._pending: deque[tuple[int, Callback]] = deque()

    def search(
        self, base: str, filter_: str, scope: str, attributes: list[str], done: Callback
    ) -> None:
        self._send(
            lambda: self._conn.search(base, filter_, SCOPES[scope], attributes=attributes),
            done,
        )

    def add(self, dn: str, classes: list[str], attrs: dict[str, list[str]], done: Callback) -> None:
        self._send(lambda: self._conn.add(dn, classes, attrs), done)

    def modify(self, dn: str, changes: dict[str, list[Any]], done: Callback) -> None:
        self._send(lambda: self._conn.modify(dn, changes, controls=self._controls), done)

    def delete(self, dn: str, done: Callback) -> None:
        self._send(lambda: self._conn.delete(dn), done)

    def drain(self) -> None:
        while self._pending:
            self._complete_oldest()

    def _send(self, op: Callable[[], Any], done: Callback) -> None:
        while len(self._pending) >= self._window:
            self._complete_oldest()
        if self._conn.closed:
            raise DirectoryUnavailable("connection to the directory lost")
        try:
            message_id = op()
        except LDAPException as exc:
            raise DirectoryUnavailable(
                f"directory connection failed: {type(exc).__name__}"
            ) from None
        if not isinstance(message_id, int) or isinstance(message_id, bool):
            raise DirectoryUnavailable("the directory connection refused a request")
        self._pending.append((message_id, done))

    def _complete_oldest(self) -> None:
        message_id, done = self._pending.popleft()
        done(self._wait(message_id))

    def _wait(self, message_id: int) -> Result:
        # Wait in slices: a dead server leaves ldap3's per-message event unset forever.
        waited = 0.0
        while True:
            try:
                response, result = self._conn.get_response(message_id, timeout=0.25)
                break
            except LDAPResponseTimeoutError:
                waited += 0.25
                if self._conn.closed or waited >= self._timeout:
                    raise DirectoryUnavailable("no answer from the directory") from None
            except LDAPException as exc:
                raise DirectoryUnavailable(
                    f"directory connection lost: {type(exc).__name__}"
                ) from None
        entries = tuple(r for r in (response or ()) if r.get("type") == "searchResEntry")
        return Result(
            int(result["result"]),
            str(result.get("description", "")),
            str(result.get("message", "") or ""),
            entries,
        )


def values(entry: dict[str, Any], attribute: str) -> tuple[str, ...]:
    """An attribute's values from a search entry, decoded (names are case-insensitive)."""
    raw = entry.get("raw_attributes", {})
    for name, vals in raw.items():
        if name.lower() == attribute.lower():
            return tuple(v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in vals)
    return ()
