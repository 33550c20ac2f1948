"""`person show` reads the directory entry as it is now, from a real slapd (issue 11.1).

Present (attributes, lock, groups), absent (not pushed yet), and a directory that does not
answer: the rest of the view is still printed, and the output says the entry was not read.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import Result

from clikit import run_cli, write_config
from fixtures_ldap import ldap_section
from importkit import ET1, GOOD_PW, World, fast_settings, row
from profilesync.config import LdapSettings
from profilesync.directory.localserver import free_port

KEY = "elefevre"


@pytest.fixture
def world(db_url: str, tmp_path: Path, ldap_settings: LdapSettings) -> Iterator[World]:
    w = World(db_url, tmp_path, fast_settings(tmp_path))
    w.run(
        [
            row("C", "Lefèvre", "Élodie", ident=KEY, password=GOOD_PW, team="Urgences"),
            row("C", "Martin", "Léa", ident="lmartin", password=GOOD_PW, debut="01/01/2099"),
        ]
    )
    yield w
    w.close()


def _cli(config: Path, *args: str) -> Result:
    return run_cli(*args, config=config)


def test_entry_as_it_is_in_the_directory(
    world: World, ldap_config: Path, ldap_settings: LdapSettings
) -> None:
    sync = _cli(ldap_config, "directory", "sync")
    assert sync.exit_code == 0, sync.stdout + sync.stderr
    result = _cli(ldap_config, "person", "show", KEY)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("directory ("))
    people = f"ou=people,{ldap_settings.base_dn}"
    assert lines[start] == f"directory (openldap): uid=elefevre,{people}"
    assert lines[start + 1 : start + 7] == [
        f"  uid: {KEY}",
        "  cn: Élodie Lefèvre",
        "  sn: Lefèvre",
        "  givenName: Élodie",
        "  locked: no",
        lines[start + 6],  # the password date the server recorded
    ]
    assert lines[start + 6].startswith("  password date attribute: ")
    groups = lines[start + 8 : start + 10]
    assert lines[start + 7] == "  groups (2):"
    assert sorted(g.strip().split(",", 1)[0] for g in groups) == ["cn=CDC1", "cn=Urgences"]
    assert all(f"ou={ET1}," in g for g in groups)
    assert "userPassword" not in result.stdout and GOOD_PW not in result.stdout


def test_a_locked_entry_is_shown_locked(world: World, ldap_config: Path) -> None:
    assert _cli(ldap_config, "directory", "sync").exit_code == 0
    data = json.loads(_cli(ldap_config, "person", "show", "lmartin", "--json").stdout)
    assert data["locked"] is True
    directory = data["directory"]
    assert (directory["status"], directory["locked"], directory["groups"]) == (
        "present",
        True,
        [],
    )
    assert directory["attributes"]["uid"] == ["lmartin"]
    assert "userPassword" not in directory["attributes"]


def test_an_entry_not_pushed_yet_is_absent(world: World, ldap_config: Path) -> None:
    result = _cli(ldap_config, "person", "show", KEY)
    assert result.exit_code == 0, result.stderr
    assert any(
        line.startswith("directory: NO ENTRY uid=elefevre,ou=people,")
        for line in result.stdout.splitlines()
    )
    assert "directory changes queued (1):" in result.stdout.splitlines()


def test_an_unreachable_directory_is_said_and_the_rest_shown(
    world: World, ldap_settings: LdapSettings
) -> None:
    section = {**ldap_section(ldap_settings), "url": f"ldap://127.0.0.1:{free_port()}"}
    config = write_config(world.tmp, database={"url": world.url}, ldap=section)
    result = _cli(config, "person", "show", KEY)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Élodie Lefèvre (elefevre, non-doctor)"
    (line,) = [x for x in lines if x.startswith("directory:")]
    assert line.startswith("directory: NOT REACHABLE, entry not read (cannot reach ldap://")
    data = json.loads(_cli(config, "person", "show", KEY, "--json").stdout)
    assert data["directory"]["status"] == "unreachable"


def test_389_lock_and_groups_read_with_its_own_attributes(
    world: World, ds389_settings: LdapSettings
) -> None:
    """389 locks with nsAccountLock, not ppolicy: the view reads the server's own mechanism."""
    config = write_config(world.tmp, database={"url": world.url}, ldap=ldap_section(ds389_settings))
    sync = _cli(config, "directory", "sync")
    assert sync.exit_code == 0, sync.stdout + sync.stderr
    locked = json.loads(_cli(config, "person", "show", "lmartin", "--json").stdout)["directory"]
    active = json.loads(_cli(config, "person", "show", KEY, "--json").stdout)["directory"]
    assert (locked["status"], locked["server"], locked["locked"]) == ("present", "389ds", True)
    assert (active["status"], active["locked"]) == ("present", False)
    assert len(active["groups"]) == 2
