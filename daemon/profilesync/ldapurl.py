"""`[ldap] url`: one directory server, in any form the OpenLDAP client accepts for one.

Parsed once, at config load, by `parse`: the connection code never looks at the text
again. RFC 4516 allows a DN, attributes, a scope, a filter and extensions after the
host; profilesync takes its base DN and filters from its own settings, so a URL that
carries any of them is refused rather than half-honoured. Several URLs (OpenLDAP's
failover list) are refused too: profilesync talks to one server.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import quote, unquote

from profilesync.errors import ProfilesyncError

DEFAULT_PORTS = {"ldap": 389, "ldaps": 636}
# Debian's libldap default (LDAPI_SOCK) for `ldapi:///` with no socket path.
DEFAULT_LDAPI_SOCKET = "/var/run/slapd/ldapi"
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
# OpenLDAP's list of servers: URLs separated by spaces or commas.
_SECOND = re.compile(r",\s*[A-Za-z][A-Za-z0-9+.-]*://")
_HOSTNAME = re.compile(r"[A-Za-z0-9._-]+")
_FORMS = "ldap://host[:port][/], ldaps://host[:port][/] or ldapi://<percent-encoded socket path>"


class LdapUrlError(ProfilesyncError, ValueError):
    """A text that is not one LDAP server's URL; the message says what is wrong."""


@dataclass(frozen=True)
class LdapUrl:
    """Where the directory is: a host and port (ldap, ldaps) or a local socket (ldapi)."""

    scheme: str  # ldap | ldaps | ldapi, lower case
    host: str = ""  # a name or an address, IPv6 without brackets; "" for ldapi
    port: int = 0  # 0 for ldapi
    socket_path: str = ""  # ldapi only

    @property
    def ssl(self) -> bool:
        return self.scheme == "ldaps"

    @property
    def ipc(self) -> bool:
        return self.scheme == "ldapi"

    def __str__(self) -> str:
        """The canonical form, for messages: scheme, host and port always spelt out."""
        if self.ipc:
            return f"ldapi://{quote(self.socket_path, safe='')}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


def parse(text: str) -> LdapUrl:
    """The server `text` names, or LdapUrlError saying why it names none (or several)."""
    url = text.strip()
    if url.startswith("<") and url.endswith(">"):  # RFC 1738 wrapping, as libldap allows
        url = url[1:-1].strip()
    if url[:4].upper() == "URL:":
        url = url[4:]
    if any(c.isspace() for c in url) or _SECOND.search(url):
        raise LdapUrlError(f"{text!r} names several servers: give one URL ({_FORMS})")
    match = _SCHEME.match(url)
    if match is None:
        raise LdapUrlError(f"{text!r} is not an LDAP URL: expected {_FORMS}")
    scheme = match.group(1).lower()
    if scheme not in ("ldap", "ldaps", "ldapi"):
        raise LdapUrlError(f"{text!r}: unknown scheme {scheme}://, expected {_FORMS}")
    authority, slash, rest = url[match.end() :].partition("/")
    if "?" in authority or "#" in authority or (slash and rest.strip("?")):
        raise LdapUrlError(
            f"{text!r} carries a DN, attributes, a scope, a filter or extensions: profilesync "
            f"takes them from [ldap] base_dn; keep only {_FORMS}"
            + (" (percent-encode the socket path: %2F for /)" if scheme == "ldapi" else "")
        )
    if scheme == "ldapi":
        return LdapUrl("ldapi", socket_path=_socket_path(text, authority))
    host, port = _host_port(text, authority)
    return LdapUrl(scheme, host or "localhost", port or DEFAULT_PORTS[scheme])


def _socket_path(text: str, authority: str) -> str:
    if not authority:
        return DEFAULT_LDAPI_SOCKET
    try:
        path = unquote(authority, errors="strict")
    except UnicodeDecodeError:
        raise LdapUrlError(f"{text!r}: the socket path is not valid UTF-8") from None
    if not path.startswith("/") or "\0" in path:
        raise LdapUrlError(
            f"{text!r}: the socket path must be absolute and percent-encoded "
            "(ldapi://%2Frun%2Fslapd%2Fldapi)"
        )
    return path


def _host_port(text: str, authority: str) -> tuple[str, int]:
    """The host (IPv6 unbracketed) and port (0: the scheme's default) of `host[:port]`."""
    if authority.startswith("["):
        literal, bracket, after = authority[1:].partition("]")
        try:
            ipaddress.IPv6Address(literal)
        except ValueError:
            raise LdapUrlError(f"{text!r}: {literal!r} is not an IPv6 address") from None
        if not bracket or (after and not after.startswith(":")):
            raise LdapUrlError(f"{text!r}: expected [IPv6 address] or [IPv6 address]:port")
        host, port_text = literal, after[1:]
    else:
        host, _, port_text = authority.partition(":")
        if ":" in port_text:
            raise LdapUrlError(f"{text!r}: an IPv6 address needs brackets: ldap://[::1]:389")
        if host and not _HOSTNAME.fullmatch(host):
            raise LdapUrlError(f"{text!r}: {host!r} is not a host name or address")
    if not port_text:
        return host, 0
    if not port_text.isascii() or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise LdapUrlError(f"{text!r}: the port must be a number from 1 to 65535")
    return host, int(port_text)
