"""Tenant isolation (SPEC §4, §6): a référent never takes over, renames, re-mails or
re-passwords a person another establishment relies on, and learns nothing about them.

Expected messages are written out literally from SPEC §4 and the guide, not read from the
catalogue, so that a changed word is a failing test.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from importkit import (
    ET1,
    ET3,
    GOOD_PW,
    OTHER_PW,
    REFERENT,
    World,
    doctor,
    fast_settings,
    row,
    rpps,
)
from profilesync.fileformat.outcome import Code
from profilesync.store.passwords import verify

EJ3 = ET3  # ET3 is registered as its own legal entity
B = "bref"  # référent of ET3 only: the "other establishment"
BOTH = "cref"  # référent of ET1 and ET3: a person may be shared legitimately
THIRD_PW = "Troisieme-Clef-93"

SHARED = (
    "compte partagé avec un autre établissement, seule votre équipe informatique peut le modifier"
)
TAKEN = (
    "Identifiant déjà utilisé : {} est le compte d'une autre personne ou d'un autre "
    "établissement ; choisissez un autre identifiant (ou vérifiez le nom et le prénom)."
)


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> Iterator[World]:
    w = World(db_url, tmp_path, fast_settings(tmp_path))
    w.add_referent(B, ET3)
    w.add_referent(BOTH, ET1, ET3)
    yield w
    w.close()


def b_row(action: str, *args: str, **kw: str) -> list[str]:
    kw.setdefault("ej", EJ3)
    kw.setdefault("et", ET3)
    return row(action, *args, **kw)


def b_doctor(action: str, n: int = 1, **kw: str) -> list[str]:
    kw.setdefault("ej", EJ3)
    kw.setdefault("et", ET3)
    return doctor(action, n, **kw)


def account(world: World, key: str) -> tuple[str, str, str | None, str]:
    (got,) = world.rows(
        "SELECT nom, prenom, email, password_hash FROM account WHERE key = :k", k=key
    )
    return got[0], got[1], got[2], got[3]


def verdict(outs: list) -> list[tuple[str, tuple[str, ...]]]:
    return [(o.code.value, o.messages) for o in outs]


# --- doctors: a national account, shared, never taken over ---------------------------------


def test_doctor_shared_by_two_establishments_gets_a_profile_in_each(world: World) -> None:
    _, a = world.run([doctor("C", password=GOOD_PW, email="p.durand@aphp.mssante.fr")])
    _, b = world.run([b_doctor("C")], submitter=B)
    assert verdict(a) == [("OK", ("Compte créé",))]
    assert verdict(b) == [("OK", ("Profil ajouté au compte existant",))]
    assert world.scalar("SELECT count(*) FROM account") == 1
    assert world.scalar("SELECT count(*) FROM profile WHERE state = 'active'") == 2


def test_expired_doctor_password_cannot_be_set_from_another_establishment(world: World) -> None:
    """The takeover: B adds a profile with a password once A's doctor's password expired."""
    world.run([doctor("C", password=GOOD_PW)])
    world.clock.advance(timedelta(days=200))
    _, outs = world.run([b_doctor("C", password=OTHER_PW)], submitter=B)
    assert verdict(outs) == [
        ("ALERTE", ("Profil ajouté au compte existant", f"Mot de passe ignoré : {SHARED}."))
    ]
    assert world.scalar("SELECT count(*) FROM profile") == 2  # the rest of the line applies
    assert verify(account(world, rpps(1))[3], GOOD_PW)
    assert not verify(account(world, rpps(1))[3], OTHER_PW)
    # …and later, through an M line on B's own profile of that doctor.
    _, outs = world.run([b_doctor("M", password=OTHER_PW)], submitter=B)
    assert verdict(outs) == [("ALERTE", ("Aucun changement", f"Mot de passe ignoré : {SHARED}."))]
    assert verify(account(world, rpps(1))[3], GOOD_PW)


def test_shared_answer_says_nothing_about_expiry(world: World) -> None:
    """Expired or not, B reads the same words: no oracle on the other account's password."""
    world.run([doctor("C", 1, password=GOOD_PW), doctor("C", 2, password=GOOD_PW)])
    world.clock.advance(timedelta(days=60))
    world.run([doctor("M", 2, password=OTHER_PW)])  # refused: not expired yet, stays GOOD_PW
    world.clock.advance(timedelta(days=40))  # doctor 1 expired (100 days), doctor 2 too
    _, fresh = world.run([b_doctor("C", 1, password=THIRD_PW)], submitter=B)
    world.clock.advance(timedelta(days=-95))
    _, young = world.run([b_doctor("C", 2, password=THIRD_PW)], submitter=B)
    assert (
        verdict(fresh)
        == verdict(young)
        == [("ALERTE", ("Profil ajouté au compte existant", f"Mot de passe ignoré : {SHARED}."))]
    )


def test_email_of_a_shared_doctor_is_not_changed_by_another_establishment(world: World) -> None:
    world.run([doctor("C", password=GOOD_PW, email="p.durand@aphp.mssante.fr")])
    _, outs = world.run([b_doctor("C", email="pirate@autre.mssante.fr")], submitter=B)
    assert verdict(outs) == [
        ("ALERTE", ("Profil ajouté au compte existant", f"Email ignoré : {SHARED}."))
    ]
    assert account(world, rpps(1))[2] == "p.durand@aphp.mssante.fr"
    _, outs = world.run(
        [b_doctor("M", email="pirate@autre.mssante.fr", fin="31/12/2026")], submitter=B
    )
    assert verdict(outs) == [("ALERTE", ("Date de fin modifiée", f"Email ignoré : {SHARED}."))]
    assert account(world, rpps(1))[2] == "p.durand@aphp.mssante.fr"
    # The profile part of the M line applied: B's profile got its end date.
    assert (
        world.scalar(
            "SELECT count(*) FROM profile p JOIN establishment e ON e.id = p.establishment_id "
            "WHERE e.et = :et AND p.fin IS NOT NULL",
            et=ET3,
        )
        == 1
    )


def test_same_email_on_a_shared_account_is_no_alert(world: World) -> None:
    world.run([doctor("C", password=GOOD_PW, email="p.durand@aphp.mssante.fr")])
    _, outs = world.run([b_doctor("C", email="P.Durand@aphp.mssante.fr")], submitter=B)
    assert verdict(outs) == [("OK", ("Profil ajouté au compte existant",))]


def test_doctor_whose_other_profiles_ended_belongs_to_the_remaining_establishment(
    world: World,
) -> None:
    """Only an active or pending profile makes an establishment rely on the account."""
    world.run([doctor("C", password=GOOD_PW, fin="20/03/2026")])
    world.run([b_doctor("C")], submitter=B)
    world.clock.advance(timedelta(days=10))  # A's profile ends on 20/03; the job marks it
    with world.engine.begin() as conn:
        conn.execute(sa.text("UPDATE profile SET state = 'ended' WHERE fin IS NOT NULL"))
    world.clock.advance(timedelta(days=100))
    _, outs = world.run(
        [b_doctor("M", email="p.durand@chb.mssante.fr", password=OTHER_PW)], submitter=B
    )
    assert verdict(outs) == [("OK", ("Email modifié", "Mot de passe modifié"))]
    assert account(world, rpps(1))[2] == "p.durand@chb.mssante.fr"
    assert verify(account(world, rpps(1))[3], OTHER_PW)


# --- non-doctors: the account belongs to the establishments where it has a profile ----------


def test_identifiant_of_another_establishment_is_taken_whatever_the_names(world: World) -> None:
    world.run([row("C", password=GOOD_PW)])  # cmartin, Martin Claire, in ET1 (aref)
    world.clock.advance(timedelta(days=200))  # expired: must change nothing in the answers
    _, same = world.run([b_row("C", password=OTHER_PW)], submitter=B)
    _, other = world.run([b_row("C", "Bernard", "Luc", password=OTHER_PW)], submitter=B)
    _, nopw = world.run([b_row("C", role="SYNT")], submitter=B)
    for outs in (same, other, nopw):
        assert verdict(outs) == [("ERREUR", (TAKEN.format("cmartin"),))]
    assert world.scalar("SELECT count(*) FROM profile") == 1
    assert verify(account(world, "cmartin")[3], GOOD_PW)


def test_a_never_used_identifiant_and_a_taken_one_read_differently_only_by_need(
    world: World,
) -> None:
    """A free identifiant creates an account; a taken one is refused in words that do not
    depend on anything but being taken."""
    world.run([row("C", password=GOOD_PW)])
    _, free = world.run([b_row("C", ident="cmartin2", password=OTHER_PW)], submitter=B)
    assert verdict(free) == [("OK", ("Compte créé",))]


def test_names_email_password_of_a_shared_non_doctor_change_only_with_every_establishment(
    world: World,
) -> None:
    """cref manages ET1 and ET3 and gives Claire a profile in each; aref (ET1 only) may
    still manage her ET1 profile, but not her names, email or password."""
    world.run(
        [row("C", password=GOOD_PW, email="c.martin@aphp.mssante.fr"), b_row("C")],
        submitter=BOTH,
    )
    world.clock.advance(timedelta(days=100))
    _, outs = world.run(
        [
            row(
                "M",
                "Martin-Dubois",
                "Claire",
                email="c@x.mssante.fr",
                password=OTHER_PW,
                fin="31/12/2026",
            )
        ]
    )
    assert verdict(outs) == [
        (
            "ALERTE",
            (
                "Date de fin modifiée",
                f"Mot de passe ignoré : {SHARED}.",
                f"Nom et prénom ignorés : {SHARED}.",
                f"Email ignoré : {SHARED}.",
            ),
        )
    ]
    assert account(world, "cmartin")[:3] == ("Martin", "Claire", "c.martin@aphp.mssante.fr")
    assert verify(account(world, "cmartin")[3], GOOD_PW)
    assert world.scalar("SELECT count(*) FROM profile WHERE fin IS NOT NULL") == 1
    # cref, who manages every establishment of the account, may change all of it.
    _, outs = world.run(
        [row("M", "Martin-Dubois", "Claire", email="c@x.mssante.fr", password=OTHER_PW)],
        submitter=BOTH,
    )
    assert verdict(outs) == [("OK", ("Nom modifié", "Email modifié", "Mot de passe modifié"))]
    assert account(world, "cmartin")[:3] == ("Martin-Dubois", "Claire", "c@x.mssante.fr")
    assert verify(account(world, "cmartin")[3], OTHER_PW)


def test_sole_owner_resets_an_expired_password(world: World) -> None:
    world.run([row("C", password=GOOD_PW)])
    world.clock.advance(timedelta(days=91))
    _, outs = world.run([row("M", password=OTHER_PW)])
    assert verdict(outs) == [("OK", ("Mot de passe modifié",))]
    assert verify(account(world, "cmartin")[3], OTHER_PW)


def test_co_manager_adds_a_profile_in_another_of_their_establishments(world: World) -> None:
    """The account has a profile in ET1, which cref manages: cref may add one in ET3."""
    world.run([row("C", password=GOOD_PW)])
    _, outs = world.run([b_row("C", role="SYNT")], submitter=BOTH)
    assert verdict(outs) == [("OK", ("Profil ajouté au compte existant",))]
    # …and the account is now shared: aref can no longer rename it.
    _, outs = world.run([row("M", "Martin-Dubois", "Claire")], submitter=REFERENT)
    assert verdict(outs) == [("ALERTE", ("Aucun changement", f"Nom et prénom ignorés : {SHARED}."))]


def test_deleted_profile_still_ties_the_account_to_its_establishment(world: World) -> None:
    """A référent who deleted a person's last profile may create one again."""
    world.run([row("C", password=GOOD_PW)])
    world.run([row("S")])
    _, outs = world.run([row("C", role="SYNT")])
    assert verdict(outs) == [("OK", ("Profil ajouté au compte existant",))]
    _, outs = world.run([b_row("C", role="SYNT")], submitter=B)
    assert verdict(outs) == [("ERREUR", (TAKEN.format("cmartin"),))]


def test_profile_of_another_establishment_is_not_found_not_described(world: World) -> None:
    """M and S name a profile by its key in B's own establishment: A's person is invisible."""
    world.run([row("C", password=GOOD_PW)])
    _, m = world.run([b_row("M", email="x@y.mssante.fr")], submitter=B)
    _, s = world.run([b_row("S")], submitter=B)
    _, m_free = world.run([b_row("M", ident="nobody")], submitter=B)
    assert [o.code for o in m + s + m_free] == [Code.ERREUR] * 3
    assert (
        m[0].messages
        == m_free[0].messages
        == (
            "Ce profil n'existe pas (aucun profil de ce compte avec ce rôle et cette équipe "
            "dans cet établissement) : vérifiez le rôle, l'équipe et l'identifiant ; pour un "
            "nouveau profil, utilisez C.",
        )
    )
    assert s[0].messages == ("Ce profil n'existe pas ou est déjà supprimé : rien à supprimer.",)
