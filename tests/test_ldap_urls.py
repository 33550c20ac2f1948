"""`[ldap] url` in every form the OpenLDAP client accepts for one server (issue 9).

The parser is pure and property-tested; then a real slapd listening on a TCP port, on
IPv6 loopback and on an ldapi:// socket is reached through the CLI in each form:
`check-config`, `directory sync` and `reconcile` all connect through the parsed URL.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clikit import run_cli, write_config
from fixtures_db import missing_backend
from fixtures_ldap import World, _clear_children, admin_connection, ldap_section
from profilesync import config
from profilesync.config import ConfigError, LdapSettings
from profilesync.directory import localserver, slapd
from profilesync.ldapurl import DEFAULT_LDAPI_SOCKET, LdapUrl, LdapUrlError, parse

ET = "750000001"

# --- the parser -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ldap://ldap.example.org", LdapUrl("ldap", "ldap.example.org", 389)),
        ("ldap://ldap.example.org:389", LdapUrl("ldap", "ldap.example.org", 389)),
        ("ldap://ldap.example.org:389/", LdapUrl("ldap", "ldap.example.org", 389)),
        ("ldap://ldap.example.org:3389/???", LdapUrl("ldap", "ldap.example.org", 3389)),
        ("LDAP://LDAP.example.org:389/", LdapUrl("ldap", "LDAP.example.org", 389)),
        ("ldaps://ldap.example.org", LdapUrl("ldaps", "ldap.example.org", 636)),
        ("LDAPS://10.0.0.1:1636/", LdapUrl("ldaps", "10.0.0.1", 1636)),
        ("ldap://[::1]", LdapUrl("ldap", "::1", 389)),
        ("ldap://[::1]:3890/", LdapUrl("ldap", "::1", 3890)),
        ("ldap:///", LdapUrl("ldap", "localhost", 389)),
        ("  ldap://h:389/  ", LdapUrl("ldap", "h", 389)),
        ("<ldap://h:389/>", LdapUrl("ldap", "h", 389)),
        ("ldapi://%2Ftmp%2Fx%2Fldapi", LdapUrl("ldapi", socket_path="/tmp/x/ldapi")),
        ("LDAPI://%2ftmp%2fx%2fldapi/", LdapUrl("ldapi", socket_path="/tmp/x/ldapi")),
        ("ldapi:///", LdapUrl("ldapi", socket_path=DEFAULT_LDAPI_SOCKET)),
    ],
)
def test_accepted_forms(text: str, expected: LdapUrl) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("ldap://a:389 ldap://b:389", "names several servers"),
        ("ldap://a,ldap://b", "names several servers"),
        ("ldap://h:389/dc=example,dc=org", "carries a DN"),
        ("ldap://h/dc=example", "carries a DN"),
        ("ldap://h/?cn", "carries a DN"),
        ("ldap://h/??sub?(uid=x)", "carries a DN"),
        ("ldapi:///run/slapd/ldapi", "percent-encode the socket path"),
        ("http://h", "unknown scheme http://"),
        ("cldap://h", "unknown scheme cldap://"),
        ("h:389", "is not an LDAP URL"),
        ("", "is not an LDAP URL"),
        ("ldap://h:0", "from 1 to 65535"),
        ("ldap://h:65536", "from 1 to 65535"),
        ("ldap://h:ab", "from 1 to 65535"),
        ("ldap://::1", "needs brackets"),
        ("ldap://[::1", "[IPv6 address]"),
        ("ldap://[zz]:389", "is not an IPv6 address"),
        ("ldap://user@h", "is not a host name"),
        ("ldapi://relative", "must be absolute"),
        ("ldapi://%2Ftmp%00x", "must be absolute"),
    ],
)
def test_refused_forms_say_why(text: str, why: str) -> None:
    with pytest.raises(LdapUrlError, match=why.replace("[", r"\[").replace("(", r"\(")):
        parse(text)


_LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
_HOSTS = st.one_of(
    st.lists(_LABEL, min_size=1, max_size=4).map(".".join),
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(str),
)


@given(
    scheme=st.sampled_from(["ldap", "ldaps"]),
    upper=st.booleans(),
    host=_HOSTS,
    port=st.none() | st.integers(1, 65535),
    tail=st.sampled_from(["", "/", "/?", "/???"]),
)
def test_host_forms_round_trip(
    scheme: str, upper: bool, host: str, port: int | None, tail: str
) -> None:
    shown = f"[{host}]" if ":" in host else host
    text = f"{scheme.upper() if upper else scheme}://{shown}" + (f":{port}" if port else "") + tail
    url = parse(text)
    assert url == LdapUrl(scheme, host, port or {"ldap": 389, "ldaps": 636}[scheme])
    assert parse(str(url)) == url


@given(path=st.text(min_size=1).map(lambda t: "/" + t).filter(lambda p: "\0" not in p))
def test_socket_paths_round_trip(path: str) -> None:
    url = parse("ldapi://" + quote(path, safe=""))
    assert url == LdapUrl("ldapi", socket_path=path)
    assert parse(str(url)) == url


@given(dn=st.text(min_size=1).filter(lambda t: t.strip("?") and "/" not in t))
def test_anything_after_the_slash_is_refused(dn: str) -> None:
    with pytest.raises(LdapUrlError):
        parse("ldap://h:389/" + quote(dn, safe="?=,"))


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ldap://a ldap://b", "[ldap] url 'ldap://a ldap://b' names several servers"),
        ("ldap://h/dc=x", "[ldap] url 'ldap://h/dc=x' carries a DN"),
        ("ftp://h", "[ldap] url 'ftp://h': unknown scheme ftp://"),
    ],
)
def test_config_load_refuses_a_bad_url_in_one_line(tmp_path: Path, url: str, why: str) -> None:
    path = write_config(tmp_path, ldap={"url": url})
    with pytest.raises(ConfigError) as caught:
        config.load(path, environ={})
    assert why in str(caught.value)
    assert "\n" not in str(caught.value)
    result = run_cli("check-config", config=path)
    assert result.exit_code != 0
    assert why in result.output
    assert "Traceback" not in result.output


def test_start_tls_over_a_socket_is_refused(tmp_path: Path) -> None:
    path = write_config(tmp_path, ldap={"url": "ldapi://%2Ftmp%2Fldapi", "start_tls": True})
    with pytest.raises(ConfigError, match="start_tls does not apply to an ldapi:// socket"):
        config.load(path, environ={})


def test_an_override_is_checked_too() -> None:
    with pytest.raises(ConfigError, match="carries a DN"):
        config.load(None, environ={"PROFILESYNC_LDAP_URL": "ldap://h/ou=x"})


# --- a real slapd reached in each form --------------------------------------------------


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.fixture(scope="module")
def many_ways(tmp_path_factory: pytest.TempPathFactory) -> Iterator[slapd.Instance]:
    """A slapd on 127.0.0.1:PORT, [::1]:PORT (if the host has IPv6) and an ldapi socket."""
    if slapd.find_slapd() is None or not slapd.MODULE_DIR.joinpath("argon2.la").exists():
        missing_backend("slapd with the argon2 and ppolicy modules (apt-get install slapd)")
    directory = tmp_path_factory.mktemp("urls").resolve()
    port = localserver.free_port("127.0.0.1")
    also = [_ldapi(directory)] + ([f"ldap://[::1]:{port}"] if _ipv6_loopback() else [])
    inst = slapd.start(directory, port=port, nosync=True, also_listen=tuple(also))
    yield inst
    slapd.stop(inst)


def _ldapi(directory: Path) -> str:
    return "ldapi://" + quote(str(directory / "run" / "ldapi"), safe="")


FORMS = ["plain", "trailing slash", "upper-case scheme", "ipv6", "ldapi"]


def _url(inst: slapd.Instance, form: str) -> str:
    return {
        "plain": f"ldap://127.0.0.1:{inst.port}",
        "trailing slash": f"ldap://127.0.0.1:{inst.port}/",
        "upper-case scheme": f"LDAP://127.0.0.1:{inst.port}/",
        "ipv6": f"ldap://[::1]:{inst.port}/",
        "ldapi": _ldapi(inst.directory),
    }[form]


@pytest.fixture
def url_ldap(many_ways: slapd.Instance) -> LdapSettings:
    ldap = many_ways.settings()
    conn = admin_connection(ldap)
    for ou in (ldap.people_ou, ldap.establishments_ou):
        _clear_children(conn, f"ou={ou},{ldap.base_dn}")
    conn.unbind()
    return ldap


@pytest.mark.parametrize("form", FORMS)
def test_every_command_reaches_the_directory_in_each_form(
    *,
    form: str,
    many_ways: slapd.Instance,
    url_ldap: LdapSettings,
    world: World,
    db_url: str,
    tmp_path: Path,
) -> None:
    if form == "ipv6" and not _ipv6_loopback():
        missing_backend("an IPv6 loopback address (::1)")
    url = _url(many_ways, form)
    cfg = write_config(
        tmp_path, database={"url": db_url}, ldap={**ldap_section(replace(url_ldap, url=url))}
    )
    world.establishment(ET)
    world.account("alice", profiles=((ET, "SYNT", None, "active"),))

    checked = run_cli("check-config", config=cfg)
    assert checked.exit_code == 0, checked.output
    assert f"ok   [ldap]: bound to {parse(url)} as {url_ldap.bind_dn}" in checked.output
    assert "Traceback" not in checked.output

    pushed = run_cli("directory", "sync", config=cfg)
    assert pushed.exit_code == 0, pushed.output
    assert "2 change(s) pushed (2 key(s)), 0 retried later, 0 parked" in pushed.output

    compared = run_cli("reconcile", config=cfg)
    assert compared.exit_code == 0, compared.output
    assert "Traceback" not in compared.output


def test_a_socket_nobody_listens_on_is_unavailable_not_a_crash(
    *, world: World, db_url: str, tmp_path: Path, url_ldap: LdapSettings
) -> None:
    url = "ldapi://" + quote(str(tmp_path / "nobody"), safe="")
    cfg = write_config(
        tmp_path, database={"url": db_url}, ldap={**ldap_section(replace(url_ldap, url=url))}
    )
    world.establishment(ET)
    result = run_cli("directory", "sync", config=cfg)
    assert result.exit_code != 0
    assert f"directory unavailable: cannot reach {parse(url)}" in result.output
    assert "queue: 0 due, 1 waiting for a retry, 0 parked" in result.output
    assert "Traceback" not in result.output
