"""The operator commands through the real CLI, on both engines, then the database state."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import sqlalchemy as sa
import typer
from sqlalchemy.orm import Session
from typer.testing import Result

from clikit import run_cli, write_config
from profilesync.cli import app
from profilesync.store import db
from profilesync.store.model import (
    Audit,
    DirectoryChange,
    Establishment,
    Referent,
    ReferentEstablishment,
)

T = TypeVar("T")

EJ = "750712184"  # AP-HP
ET = "750100125"  # Pitié-Salpêtrière
ET2 = "2A0000154"
EJ2 = "130786049"  # AP-HM


class Cli:
    """Runs `profilesync …` against one database, the way an operator would."""

    def __init__(self, url: str, outbox: Path | None = None) -> None:
        self.url = url
        self.outbox = outbox

    def __call__(self, *args: str, env: dict[str, str | None] | None = None) -> Result:
        base: dict[str, str | None] = {
            "PROFILESYNC_DATABASE_URL": self.url,
            "PROFILESYNC_PATHS_OUTBOX": str(self.outbox) if self.outbox else None,
            "SUDO_USER": "alice",
        }
        return run_cli(*args, env={**base, **(env or {})})

    def ok(self, *args: str) -> str:
        result = self(*args)
        assert result.exit_code == 0, (result.stdout, result.stderr)
        return result.stdout

    def fails(self, *args: str, code: int = 2) -> str:
        result = self(*args)
        assert result.exit_code == code, (result.stdout, result.stderr)
        return result.stderr

    def rows(self, model: type[T]) -> list[T]:
        engine = db.make_engine(self.url)
        try:
            with Session(engine) as session:
                return list(session.scalars(sa.select(model)))
        finally:
            engine.dispose()

    def count(self, model: type[object]) -> int:
        return len(self.rows(model))


@pytest.fixture
def cli(db_url: str, tmp_path: Path) -> Cli:
    return Cli(db_url, tmp_path / "outbox")


@pytest.fixture
def with_ets(cli: Cli) -> Cli:
    cli.ok("establishment", "add", "--ej", EJ, "--et", ET, "--name", "Pitié-Salpêtrière")
    cli.ok("establishment", "add", "--ej", EJ, "--et", ET2)
    return cli


def _audits(cli: Cli) -> list[tuple[str, str, str, dict[str, object]]]:
    rows = sorted(cli.rows(Audit), key=lambda a: a.id)
    return [(a.actor, a.action, a.entity_key, a.changes) for a in rows]


# -- db ---------------------------------------------------------------------------------------


def test_db_upgrade_then_status(empty_db_url: str) -> None:
    cli = Cli(empty_db_url)
    where = db.display_url(empty_db_url)
    status = cli(*["db", "status"])
    assert status.exit_code == 1
    assert status.stdout.splitlines()[1:] == [
        "current revision: (not initialised)",
        f"expected revision: {db.head_revision()}",
        "out of date: run `profilesync db upgrade`",
    ]
    assert cli.ok("db", "upgrade") == f"{where}: upgraded from (empty) to {db.head_revision()}\n"
    assert cli.ok("db", "upgrade") == f"{where}: already at {db.head_revision()}, nothing to do\n"
    assert cli.ok("db", "status").splitlines()[1:] == [
        f"current revision: {db.head_revision()}",
        f"expected revision: {db.head_revision()}",
        "up to date",
    ]


def test_db_upgrade_in_a_fresh_process_with_the_default_database(tmp_path: Path) -> None:
    """The shipped default (`sqlite:///var/profilesync.db`, relative to the working
    directory) works from a clean process, its folder created, and Alembic stays quiet."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROFILESYNC_")}
    run = subprocess.run(
        [sys.executable, "-m", "profilesync", "db", "upgrade"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (run.returncode, run.stderr) == (0, "")
    assert (
        run.stdout
        == f"sqlite:///var/profilesync.db: upgraded from (empty) to {db.head_revision()}\n"
    )
    assert (tmp_path / "var" / "profilesync.db").is_file()


COMMANDS = [
    ("establishment", "add", "--ej", EJ, "--et", ET),
    ("establishment", "list"),
    ("referent", "add", "jdupont", "--et", ET),
    ("referent", "remove", "jdupont"),
    ("referent", "list"),
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_commands_refuse_an_uninitialised_database(empty_db_url: str, command: tuple[str]) -> None:
    cli = Cli(empty_db_url)
    err = cli.fails(*command)
    assert err == (
        f"error: the database {db.display_url(empty_db_url)} is not initialised: "
        "run `profilesync db upgrade`\n"
    )


def test_commands_refuse_an_unknown_revision(cli: Cli) -> None:
    engine = db.make_engine(cli.url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    err = cli.fails("referent", "list")
    assert "is at revision 9999, unknown to this version of profilesync" in err


def test_unreachable_database_is_a_clean_error() -> None:
    cli = Cli("postgresql://profilesync:S3cret@127.0.0.1:1/profiles")
    err = cli.fails("establishment", "list")
    assert err.startswith(
        "error: cannot open the database "
        "postgresql+psycopg://profilesync:***@127.0.0.1:1/profiles: "
    )
    assert "S3cret" not in err


def test_config_file_gives_the_database(db_url: str, tmp_path: Path) -> None:
    config = write_config(tmp_path, database={"url": db_url})
    result = run_cli(
        "establishment",
        "add",
        "--ej",
        EJ,
        "--et",
        ET,
        config=config,
        env={"PROFILESYNC_DATABASE_URL": None},
    )
    assert result.exit_code == 0, result.stderr
    assert Cli(db_url).count(Establishment) == 1


# -- establishments -----------------------------------------------------------------------------


def test_establishment_add_registers_audits_and_queues_the_directory(cli: Cli) -> None:
    out = cli.ok("establishment", "add", "--ej", EJ, "--et", ET, "--name", " Pitié  Salpêtrière ")
    assert out == f"added establishment {ET} (EJ {EJ}) Pitié Salpêtrière\n"
    [est] = cli.rows(Establishment)
    assert (est.et, est.ej, est.name) == (ET, EJ, "Pitié Salpêtrière")
    assert _audits(cli) == [
        (
            "operator:alice",
            "establishment.add",
            ET,
            {"ej": [None, EJ], "name": [None, "Pitié Salpêtrière"]},
        )
    ]
    [change] = cli.rows(DirectoryChange)
    assert (change.kind, change.key, change.parked) == ("establishment", ET, False)


def test_establishment_add_again_is_idempotent(cli: Cli) -> None:
    cli.ok("establishment", "add", "--ej", EJ, "--et", ET, "--name", "Pitié")
    out = cli.ok("establishment", "add", "--ej", EJ, "--et", ET)
    assert out == f"establishment {ET} (EJ {EJ}) already registered, unchanged\n"
    assert cli.ok("establishment", "add", "--ej", EJ, "--et", ET, "--name", "Pitié") == out
    assert cli.count(Establishment) == 1
    assert cli.count(Audit) == 1
    assert cli.count(DirectoryChange) == 1


def test_establishment_add_with_a_new_name_renames(cli: Cli) -> None:
    cli.ok("establishment", "add", "--ej", EJ, "--et", ET, "--name", "Pitié")
    out = cli.ok("establishment", "add", "--ej", EJ, "--et", ET, "--name", "Pitié-Salpêtrière")
    assert out == f"renamed establishment {ET} to 'Pitié-Salpêtrière'\n"
    assert _audits(cli)[-1][1:] == (
        "establishment.rename",
        ET,
        {"name": ["Pitié", "Pitié-Salpêtrière"]},
    )


def test_an_et_belongs_to_one_ej(cli: Cli) -> None:
    cli.ok("establishment", "add", "--ej", EJ, "--et", ET)
    err = cli.fails("establishment", "add", "--ej", EJ2, "--et", ET)
    assert err == (
        f"error: ET {ET} is already registered under EJ {EJ}, not {EJ2}: "
        "an establishment belongs to one legal entity\n"
    )
    [est] = cli.rows(Establishment)
    assert est.ej == EJ


@pytest.mark.parametrize(
    ("ej", "et", "message"),
    [
        ("750712185", ET, "EJ 750712185 has a wrong check key (last digit)"),
        (EJ, "750100126", "ET 750100126 has a wrong check key (last digit)"),
        (EJ, "10780062", "ET 10780062 has 8 digits: a spreadsheet may have dropped its leading "
                         "zero; did you mean 010780062?"),
    ],
)  # fmt: skip
def test_establishment_add_checks_both_finess(cli: Cli, ej: str, et: str, message: str) -> None:
    assert cli.fails("establishment", "add", "--ej", ej, "--et", et) == f"error: {message}\n"
    assert cli.count(Establishment) == 0
    assert cli.count(Audit) == 0


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("x" * 201, "name is too long (201 characters, at most 200)"),
        ("CHU\x00Nord", "name contains a control character"),
    ],
)
def test_establishment_name_is_checked(cli: Cli, name: str, message: str) -> None:
    assert cli.fails("establishment", "add", "--ej", EJ, "--et", ET, "--name", name) == (
        f"error: {message}\n"
    )
    assert cli.count(Establishment) == 0


def test_lower_case_corsican_finess_is_stored_upper_case(cli: Cli) -> None:
    cli.ok("establishment", "add", "--ej", EJ, "--et", "2a0000154")
    [est] = cli.rows(Establishment)
    assert est.et == "2A0000154"


def test_establishment_list(with_ets: Cli) -> None:
    with_ets.ok("referent", "add", "jdupont", "--et", ET)
    with_ets.ok("referent", "add", "amartin", "--et", ET)
    assert with_ets.ok("establishment", "list").splitlines() == [
        "ET         EJ         NAME               REFERENTS",
        "2A0000154  750712184                     -",
        "750100125  750712184  Pitié-Salpêtrière  amartin, jdupont",
    ]
    assert json.loads(with_ets.ok("establishment", "list", "--json")) == [
        {"et": ET2, "ej": EJ, "name": "", "referents": []},
        {"et": ET, "ej": EJ, "name": "Pitié-Salpêtrière", "referents": ["amartin", "jdupont"]},
    ]


def test_empty_lists(cli: Cli) -> None:
    assert cli.ok("establishment", "list") == "no establishment registered\n"
    assert cli.ok("referent", "list") == "no référent registered\n"
    assert json.loads(cli.ok("establishment", "list", "--json")) == []
    assert json.loads(cli.ok("referent", "list", "--json")) == []


# -- référents ----------------------------------------------------------------------------------


def _links(cli: Cli) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    ids = {e.id: e.et for e in cli.rows(Establishment)}
    referents = {r.id: r.login for r in cli.rows(Referent)}
    for login in referents.values():
        out[login] = []
    for link in cli.rows(ReferentEstablishment):
        out[referents[link.referent_id]].append(ids[link.establishment_id])
    return {k: sorted(v) for k, v in out.items()}


def test_referent_add_normalises_the_login_and_links_every_et(with_ets: Cli) -> None:
    out = with_ets.ok("referent", "add", "JDupont", "--et", ET, "--et", ET2.lower())
    assert out == f"added référent jdupont: {ET2}, {ET}\n"
    assert _links(with_ets) == {"jdupont": [ET2, ET]}
    assert _audits(with_ets)[-1] == (
        "operator:alice",
        "referent.add",
        "jdupont",
        {"establishments": [[], [ET2, ET]]},
    )


def test_referent_add_again_adds_only_what_is_new(with_ets: Cli) -> None:
    with_ets.ok("referent", "add", "jdupont", "--et", ET)
    audits = with_ets.count(Audit)
    assert with_ets.ok("referent", "add", "jdupont", "--et", ET) == (
        f"référent jdupont already manages {ET}\n"
    )
    assert with_ets.count(Audit) == audits
    out = with_ets.ok("referent", "add", "jdupont", "--et", ET2, "--et", ET)
    assert out == f"référent jdupont now also manages {ET2} (all: {ET2}, {ET})\n"
    assert _links(with_ets) == {"jdupont": [ET2, ET]}
    assert _audits(with_ets)[-1][1:] == (
        "referent.grant",
        "jdupont",
        {"establishments": [[ET], [ET2, ET]]},
    )


def test_referent_add_refuses_an_unknown_et_and_writes_nothing(with_ets: Cli) -> None:
    audits = with_ets.count(Audit)
    err = with_ets.fails("referent", "add", "jdupont", "--et", ET, "--et", "690781810")
    assert err == (
        "error: establishment 690781810 is not registered: add it first with "
        "`profilesync establishment add --ej EJ --et 690781810`\n"
    )
    assert _links(with_ets) == {}
    assert with_ets.count(Audit) == audits


def test_referent_add_refuses_an_invalid_et(with_ets: Cli) -> None:
    err = with_ets.fails("referent", "add", "jdupont", "--et", "750100126")
    assert err == "error: ET 750100126 has a wrong check key (last digit)\n"
    assert _links(with_ets) == {}


def test_referent_add_needs_an_et(with_ets: Cli) -> None:
    assert with_ets.fails("referent", "add", "jdupont") == (
        "error: give at least one establishment with --et\n"
    )


@pytest.mark.parametrize("login", ["../etc", "a b", "a/b", "exports"])
def test_referent_add_refuses_a_login_unfit_for_a_folder(with_ets: Cli, login: str) -> None:
    err = with_ets.fails("referent", "add", login, "--et", ET)
    assert err.startswith(f"error: invalid login {login!r}: it names the référent's inbox folder")
    assert _links(with_ets) == {}


def test_referent_remove_one_et_then_entirely(with_ets: Cli) -> None:
    with_ets.ok("referent", "add", "jdupont", "--et", ET, "--et", ET2)
    out = with_ets.ok("referent", "remove", "JDUPONT", "--et", ET)
    assert out == f"référent jdupont no longer manages {ET} (left: {ET2})\n"
    assert _links(with_ets) == {"jdupont": [ET2]}
    assert _audits(with_ets)[-1][1:] == (
        "referent.revoke",
        "jdupont",
        {"establishments": [[ET2, ET], [ET2]]},
    )
    assert with_ets.ok("referent", "remove", "jdupont", "--et", ET) == (
        f"référent jdupont did not manage {ET}, unchanged\n"
    )
    assert with_ets.ok("referent", "remove", "jdupont") == "removed référent jdupont\n"
    assert _links(with_ets) == {}
    assert with_ets.count(ReferentEstablishment) == 0
    assert _audits(with_ets)[-1][1:] == (
        "referent.remove",
        "jdupont",
        {"establishments": [[ET2], []]},
    )
    assert with_ets.count(Establishment) == 2  # establishments stay


def test_referent_remove_unknown_login(with_ets: Cli) -> None:
    assert with_ets.fails("referent", "remove", "nobody") == (
        "error: no référent has the login 'nobody'\n"
    )


def test_referent_with_no_establishment_left_is_kept(with_ets: Cli) -> None:
    with_ets.ok("referent", "add", "jdupont", "--et", ET)
    with_ets.ok("referent", "remove", "jdupont", "--et", ET)
    assert _links(with_ets) == {"jdupont": []}
    assert with_ets.ok("referent", "list").splitlines() == [
        "LOGIN    ESTABLISHMENTS  EMAIL",
        "jdupont  -               -",
    ]


def test_referent_list(with_ets: Cli) -> None:
    with_ets.ok("referent", "add", "mdurand", "--et", ET)
    with_ets.ok("referent", "add", "amartin", "--et", ET2, "--et", ET)
    assert with_ets.ok("referent", "list").splitlines() == [
        "LOGIN    ESTABLISHMENTS        EMAIL",
        f"amartin  {ET2}, {ET}  -",
        f"mdurand  {ET}             -",
    ]
    assert json.loads(with_ets.ok("referent", "list", "--json")) == [
        {"login": "amartin", "establishments": [ET2, ET], "email": None},
        {"login": "mdurand", "establishments": [ET], "email": None},
    ]


def test_referent_email_is_set_changed_and_checked(with_ets: Cli) -> None:
    out = with_ets.ok("referent", "add", "mdurand", "--et", ET, "--email", " M.Durand@CH.fr ")
    assert "notifications of mdurand go to" in out
    [ref] = with_ets.rows(Referent)
    assert ref.email == "m.durand@ch.fr"
    # The template is in the référent's outbox folder from registration on.
    assert (
        (with_ets.outbox / "mdurand" / "modele.csv")
        .read_bytes()
        .startswith("\ufeffFiness EJ;Finess ET;".encode())
    )
    with_ets.ok("referent", "add", "mdurand", "--et", ET, "--email", "autre@ch.fr")
    assert with_ets.rows(Referent)[0].email == "autre@ch.fr"
    for bad in ("a@b.fr\nBcc: x@y.fr", "a@b.fr, c@d.fr", "pas-une-adresse"):
        assert "invalid email address" in with_ets.fails(
            "referent", "add", "mdurand", "--et", ET, "--email", bad
        )
    assert with_ets.rows(Referent)[0].email == "autre@ch.fr"


# -- help -----------------------------------------------------------------------------------


def _node(command: tuple[str, ...]) -> Any:
    """The (typer-vendored) click command object for `command`."""
    node: Any = typer.main.get_command(app)
    for part in command:
        node = node.commands[part]
    return node


def _admin_commands() -> Iterator[tuple[str, ...]]:
    for group in ("db", "establishment", "referent"):
        yield (group,)
        for name in _node((group,)).commands:
            yield (group, name)


def test_admin_commands_are_all_there() -> None:
    assert sorted(" ".join(c) for c in _admin_commands()) == [
        "db",
        "db status",
        "db upgrade",
        "establishment",
        "establishment add",
        "establishment list",
        "establishment show",
        "referent",
        "referent add",
        "referent list",
        "referent remove",
    ]


@pytest.mark.parametrize("command", list(_admin_commands()), ids=" ".join)
def test_every_admin_command_has_help(command: tuple[str, ...]) -> None:
    result = run_cli(*command, "--help")
    assert result.exit_code == 0
    node = _node(command)
    assert node.help
    assert len(node.help.strip()) > 20
    if len(command) == 2:
        assert "--config" in result.stdout
        for param in node.params:
            if param.param_type_name == "option" and param.name != "help":
                assert param.help, f"{' '.join(command)} {param.opts} has no help"
