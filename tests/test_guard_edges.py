"""Edges of the smaller guards that mutation testing found unpinned (issue 14, « Smaller »).

Each expectation comes from SPEC or from the documented choice where SPEC is silent: the
password policy (SPEC §4, containment from 3 characters on as rules.password_problems
documents), email addresses (SPEC §3, at most 254 characters as RFC 5321 allows), expiry
(SPEC §4), the order in which unfinished files are taken up (SPEC §9, oldest claim first).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from importkit import REFERENT, World, fast_settings
from profilesync import layout
from profilesync.config import PasswordSettings
from profilesync.fileformat import messages as msg
from profilesync.fileformat.identifiers import read_mssante_email
from profilesync.fileformat.outcome import Code
from profilesync.fileformat.rules import password_problems
from profilesync.service import claim
from profilesync.store.importer import register_run
from profilesync.store.passwords import SCHEME, is_expired, needs_rehash

POLICY = PasswordSettings()

# --- the password policy ------------------------------------------------------------------------


def test_a_three_letter_nom_may_not_be_in_the_password() -> None:
    found = password_problems("Xroyx-Horse-42", login="jdoe", nom="Roy", policy=POLICY)
    assert [p.message for p in found] == [msg.PASSWORD_CONTAINS_NOM]


def test_a_two_letter_nom_is_not_looked_for() -> None:
    assert password_problems("Xlix-Horse-42", login="jdoe", nom="Li", policy=POLICY) == ()


def test_a_three_letter_login_may_not_be_in_the_password() -> None:
    messages = [
        p.message
        for p in password_problems("Xjdox-Horse-42", login="jdo", nom="Martin", policy=POLICY)
    ]
    assert messages == [msg.PASSWORD_CONTAINS_LOGIN]


def test_a_no_break_space_in_a_password_is_not_a_control_character() -> None:
    assert (
        password_problems("Correct\u00a0Horse-42", login="jdoe", nom="Martin", policy=POLICY) == ()
    )


def test_a_tab_in_a_password_is_a_control_character() -> None:
    messages = [
        p.message
        for p in password_problems("Correct\tHorse-42", login="jdoe", nom="Martin", policy=POLICY)
    ]
    assert messages == [msg.PASSWORD_CONTROL]


# --- email ---------------------------------------------------------------------------------------


def _address(total: int) -> str:
    """An MSSanté address of `total` characters: 64-character local part, labels ≤ 63."""
    local = "a" * 64
    tail = ".mssante.fr"
    sub = total - len(local) - 1 - len(tail)  # characters left for the subdomain labels
    labels = ["b" * 63, "c" * 63]
    labels.append("d" * (sub - 63 - 1 - 63 - 1))
    return f"{local}@{'.'.join(labels)}{tail}"


def test_a_254_character_mssante_address_is_kept() -> None:
    address = _address(254)
    assert len(address) == 254
    assert read_mssante_email(address.upper()) == (address, None)


def test_a_255_character_address_is_ignored_with_alerte() -> None:
    address = _address(255)
    assert len(address) == 255
    value, problem = read_mssante_email(address)
    assert value is None
    assert problem is not None and problem.code is Code.ALERTE


@pytest.mark.parametrize(
    "address",
    ["a@mssante.fr", "A@MSSANTE.FR", f"{'l' * 64}@mssante.fr", "x.y+z@ch-exemple.mssante.fr"],
)
def test_mssante_addresses_at_the_edges_are_kept_lower_case(address: str) -> None:
    assert read_mssante_email(address) == (address.lower(), None)


@pytest.mark.parametrize(
    "cell",
    ["@mssante.fr", f"{'l' * 65}@mssante.fr", ".a@mssante.fr", "a.@mssante.fr", "a..b@mssante.fr",
     "a b@mssante.fr", "a@", "a@-x.mssante.fr", "a@mssante..fr", "sans-arobase"],
)  # fmt: skip
def test_malformed_addresses_are_ignored_as_malformed(cell: str) -> None:
    value, problem = read_mssante_email(cell)
    assert value is None
    assert problem is not None
    assert (problem.code, problem.message) == (Code.ALERTE, msg.EMAIL_MALFORMED)


@pytest.mark.parametrize("cell", ["a@gmail.com", "a@mssante.fr.evil.com", "a@xmssante.fr"])
def test_addresses_outside_mssante_are_ignored_as_such(cell: str) -> None:
    value, problem = read_mssante_email(cell)
    assert value is None
    assert problem is not None
    assert (problem.code, problem.message) == (Code.ALERTE, msg.EMAIL_NOT_MSSANTE)


# --- passwords in the database ------------------------------------------------------------------


def test_a_malformed_stored_hash_needs_rehashing() -> None:
    assert needs_rehash(SCHEME + "$argon2id$not-a-hash", POLICY)
    assert needs_rehash("plain", POLICY)


def test_a_one_day_maximum_age_expires_after_exactly_one_day() -> None:
    set_at = datetime(2026, 3, 15, 10, 0, tzinfo=UTC)
    assert not is_expired(set_at, set_at + timedelta(hours=23, minutes=59), 1)
    assert is_expired(set_at, set_at + timedelta(days=1), 1)
    assert not is_expired(set_at, set_at + timedelta(days=10_000), 0)  # 0: never


# --- claims -------------------------------------------------------------------------------------


def test_unfinished_files_are_taken_up_oldest_claim_first_whatever_their_folder(
    tmp_path: Path,
) -> None:
    settings = fast_settings(tmp_path)
    t0 = datetime(2026, 3, 15, 10, 0, tzinfo=UTC)
    claims = [("zoe", t0, "a.csv"), ("alice", t0 + timedelta(seconds=1), "b.csv"),
              ("marc", t0 + timedelta(minutes=5), "c.csv")]  # fmt: skip
    made = []
    for login, when, name in claims:
        folder = layout.work_folder(settings, login)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / layout.work_name(when, name)
        path.write_bytes(b"x")
        made.append(path)
    (layout.work_folder(settings, "zoe") / ".hidden.tmp").write_bytes(b"x")
    assert claim.work_files(settings) == made


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> Iterator[World]:
    w = World(db_url, tmp_path, fast_settings(tmp_path))
    yield w
    w.close()


def test_a_report_name_taken_by_a_file_or_a_run_is_not_reused(world: World) -> None:
    """SPEC §7: outbox/<login>/<stem>.<stamp>.rapport.csv; one report never replaces another."""
    when = "20260315T100000Z"
    folder = layout.report_folder(world.settings, REFERENT)
    folder.mkdir(parents=True)
    with world.sf() as s:
        first = claim.report_path(world.settings, s, REFERENT, "f.csv", when)
    assert first == folder / f"f.{when}.rapport.csv"
    first.write_bytes(b"")
    with world.sf() as s:
        second = claim.report_path(world.settings, s, REFERENT, "f.csv", when)
    assert second == folder / f"f.{when}-2.rapport.csv"
    path = world.csv([])
    register_run(
        world.sf, work_path=path, report_path=second, clock=world.clock,
        submitter=REFERENT, file_name="f.csv", source="cli",
    )  # fmt: skip
    with world.sf() as s:
        third = claim.report_path(world.settings, s, REFERENT, "f.csv", when)
    assert third == folder / f"f.{when}-3.rapport.csv"  # the run holds -2, not yet written
