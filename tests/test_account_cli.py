"""`profilesync account set`: the operator changes what a référent may not (SPEC §4).

Through the real CLI on both engines, then the database state: names, email and password
of a shared account change, audited under the operator's name and queued for the
directory; the password never appears in an argument, an output or the audit.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from importkit import GOOD_PW, World, doctor, fast_settings, rpps
from profilesync.cli import app
from profilesync.store.passwords import verify

NEW_PW = "Nouveau-Secret-2027"


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> Iterator[World]:
    w = World(db_url, tmp_path, fast_settings(tmp_path))
    w.run([doctor("C", password=GOOD_PW, email="p.durand@aphp.mssante.fr")])
    yield w
    w.close()


def account_cli(world: World, *args: str, stdin: str | None = None) -> Result:
    env = {
        "PROFILESYNC_CONFIG": None,
        "PROFILESYNC_DATABASE_URL": world.url,
        "PROFILESYNC_PASSWORDS_ARGON2_TIME_COST": "1",
        "PROFILESYNC_PASSWORDS_ARGON2_MEMORY_KIB": "8",
        "SUDO_USER": "alice",
    }
    return CliRunner().invoke(app, ["account", *args], env=env, input=stdin)


def test_operator_changes_names_and_email_of_a_shared_doctor(world: World) -> None:
    key = rpps(1)
    result = account_cli(
        world, "set", key, "--nom", "Durand-Leroy", "--email", "P.Durand@chb.mssante.fr"
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"account {key}: changed nom, email\n"
    assert world.rows("SELECT nom, prenom, email FROM account") == [
        ("Durand-Leroy", "Paul", "p.durand@chb.mssante.fr")
    ]
    audit = world.rows("SELECT actor, action, entity_key FROM audit WHERE actor LIKE 'operator:%'")
    assert audit == [("operator:alice", "account.update", key)]
    assert world.scalar("SELECT count(*) FROM directory_change WHERE key = :k", k=key) >= 1


def test_operator_sets_a_password_read_from_stdin_never_echoed(world: World) -> None:
    result = account_cli(world, "set", rpps(1), "--password-stdin", stdin=NEW_PW + "\n")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"account {rpps(1)}: changed password\n"
    assert verify(world.scalar("SELECT password_hash FROM account"), NEW_PW)
    (changes,) = world.rows("SELECT changes FROM audit WHERE actor = 'operator:alice'")[0]
    assert "changed" in str(changes) and NEW_PW not in str(changes)
    assert NEW_PW not in result.stdout + result.stderr


def test_operator_password_still_follows_the_policy(world: World) -> None:
    result = account_cli(world, "set", rpps(1), "--password-stdin", stdin="Zq9weak\n")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: password refused by the policy: ")
    assert "Zq9weak" not in result.stderr
    assert verify(world.scalar("SELECT password_hash FROM account"), GOOD_PW)


def test_same_values_change_nothing_and_audit_nothing(world: World) -> None:
    result = account_cli(world, "set", rpps(1), "--nom", "Durand", "--prenom", "Paul")
    assert result.exit_code == 0 and result.stdout == f"account {rpps(1)}: nothing to change\n"
    assert world.scalar("SELECT count(*) FROM audit WHERE actor LIKE 'operator:%'") == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("set", "uid=x,ou=people*"),
            "error: nothing to change: give --nom, --prenom, --email or --password-stdin\n",
        ),
        (
            ("set", "x)(uid=*", "--nom", "X"),
            "error: no account has the key 'x)(uid=*' (an Identifiant or an RPPS)\n",
        ),
        (
            ("set", rpps(1), "--email", "p@gmail.com"),
            "error: email 'p@gmail.com' is not an MSSanté address (…@mssante.fr)\n",
        ),
        (
            ("set", rpps(1), "--nom", " "),
            "error: nom must be 1 to 100 printable characters, got ' '\n",
        ),
    ],
)
def test_refusals_are_one_line_exit_2_and_change_nothing(
    world: World, args: tuple[str, ...], message: str
) -> None:
    result = account_cli(world, *args)
    assert (result.exit_code, result.stderr) == (2, message)
    assert world.rows("SELECT nom, email FROM account") == [("Durand", "p.durand@aphp.mssante.fr")]
