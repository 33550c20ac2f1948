"""Invisible characters in Nom, Prénom, team names and Identifiant (issue 8, point 5).

A name that looks right but holds a bidi override, a zero-width character or a Hangul filler
would create an account nobody can find or tell apart: ERREUR, naming the character (its
code, a French name for the common ones) and its position. Spaces, no-break ones included,
are not invisible; around a value they are trimmed by csvfile (a certain repair).
"""

from __future__ import annotations

import csv
import io
import tempfile
import unicodedata
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from importkit import GOOD_PW, REFERENT, World, fast_settings, fresh_sqlite, row
from profilesync.config import LimitsSettings, PasswordSettings
from profilesync.fileformat.csvfile import rows_from_bytes
from profilesync.fileformat.outcome import Code
from profilesync.fileformat.rules import check_row
from profilesync.store.importer import import_file, outcomes

TODAY = date(2026, 3, 15)
POLICY = PasswordSettings()
RETYPE = "ressaisissez la valeur au clavier (ce caractère vient souvent d'un copier-coller)"


@dataclass(frozen=True)
class Row:
    number: int
    cells: tuple[str, ...]


def line(**changes: str) -> tuple[str, ...]:
    values = dict(
        ej="750712184", et="750100125", team="", action="C", nom="Garçon", prenom="Cécile",
        rpps="", role="CDC1", ident="cgarcon", pw="Un-Mot2Passe-Long", email="", debut="",
        fin="",
    )  # fmt: skip
    values.update(changes)
    return tuple(values.values())


def problems(**changes: str) -> list[tuple[Code, str]]:
    checked = check_row(Row(4, line(**changes)), TODAY, POLICY)
    assert (checked.line is None) == any(p.code is Code.ERREUR for p in checked.problems)
    return [(p.code, p.message) for p in checked.problems]


@pytest.mark.parametrize(
    ("nom", "what"),
    [
        ("Du\u202epont", "U+202E (inversion du sens d'écriture) en position 3"),
        ("Dupont\u200b", "U+200B (espace de largeur nulle) en position 7"),
        ("Du\u200dpont", "U+200D (liant sans chasse) en position 3"),
        ("Du\u2066pont\u2069", "U+2066 (isolat gauche à droite) en position 3"),
        ("Le\u00adfèvre", "U+00AD (trait d'union conditionnel) en position 3"),
        ("Dupont\u2060", "U+2060 (gluon de mots) en position 7"),
        ("\ufeffDupont", "U+FEFF (espace insécable de largeur nulle) en position 1"),
        ("Du\u3164pont", "U+3164 (remplissage hangûl) en position 3"),
        ("\u115fDupont", "U+115F (remplissage hangûl) en position 1"),
        ("Du\u1160pont", "U+1160 (remplissage hangûl) en position 3"),
        ("Dupont\u2800", "U+2800 (caractère braille vide) en position 7"),
        ("Du\u180epont", "U+180E (séparateur de voyelles mongol) en position 3"),
        ("Du\u034fpont", "U+034F (gluon de graphèmes) en position 3"),
        ("Dupont\U000e0041", "U+E0041 en position 7"),
        ("Du\x1bpont", "U+001B en position 3"),
    ],
)
def test_an_invisible_character_in_a_nom_is_refused_naming_it(nom: str, what: str) -> None:
    assert problems(nom=nom) == [(Code.ERREUR, f"Nom : caractère invisible {what} ; {RETYPE}")]


def test_the_position_counts_characters_as_typed_before_nfc() -> None:
    decomposed = unicodedata.normalize("NFD", "Lefèvre")  # L e f e ◌̀ v r e
    assert problems(prenom=decomposed + "\u200b") == [
        (
            Code.ERREUR,
            f"Prénom : caractère invisible U+200B (espace de largeur nulle) en position 9 ; "
            f"{RETYPE}",
        )
    ]


def test_an_invisible_character_in_a_team_name_is_refused() -> None:
    assert problems(role="CDC4", team="Réa\u200bnimation") == [
        (
            Code.ERREUR,
            "Nom de l'équipe : caractère invisible U+200B (espace de largeur nulle) en position "
            f"4 ; {RETYPE}",
        )
    ]


def test_an_invisible_character_in_an_identifiant_is_named_and_the_rest_still_judged() -> None:
    assert problems(ident="cgar\u200bcon") == [
        (
            Code.ERREUR,
            "Identifiant : caractère invisible U+200B (espace de largeur nulle) en position 5 ; "
            f"{RETYPE}",
        )
    ]
    assert problems(ident="cgarçon\u202e") == [
        (
            Code.ERREUR,
            "Identifiant : caractère invisible U+202E (inversion du sens d'écriture) en position "
            f"8 ; {RETYPE}",
        ),
        (
            Code.ERREUR,
            "Identifiant : invalide ; lettres sans accent, chiffres, « . », « _ », « - » ou « @ »,"
            " commençant par une lettre ou un chiffre, 100 caractères au plus",
        ),
    ]
    assert problems(ident="cgar\ncon") == [
        (
            Code.ERREUR,
            "Identifiant : retour à la ligne U+000A (saut de ligne) en position 5 ; saisissez la "
            "valeur sur une seule ligne",
        )
    ]


def test_a_doctor_s_identifiant_is_ignored_whatever_it_holds() -> None:
    changes = {"role": "CDC3D", "rpps": "10000000017", "ident": "x\u200by"}
    assert problems(**changes) == [
        (
            Code.ALERTE,
            "Identifiant : ignoré pour le rôle CDC3D (médecin), le compte d'un médecin est son "
            "n° RPPS",
        )
    ]


@pytest.mark.parametrize("space", ["\u00a0", "\u202f", "\u2009", "\u3000"])
def test_spaces_inside_a_name_are_spaces_not_invisible_characters(space: str) -> None:
    assert problems(nom=f"De{space}la Tour", prenom=f"Jean{space}Pierre") == []


def test_edges_are_trimmed_by_the_parser_so_only_inner_characters_count() -> None:
    data = ";".join(line(nom="\u200b\ufeffDupont\u00a0\u200b", prenom="Jean")).encode()
    [parsed] = rows_from_bytes(data, LimitsSettings())
    assert parsed.cells[4] == "Dupont"
    assert check_row(parsed, TODAY, POLICY).problems == ()


# ---------------------------------------------------------------------------------------------
# Properties: any such character anywhere in a Nom is ERREUR, named, and never applied
# ---------------------------------------------------------------------------------------------

_PRINTABLE_BLANKS = "\u034f\u115f\u1160\u17b4\u17b5\u180b\u180c\u180d\u180f\u2800\u3164\ufe0f\uffa0"
INVISIBLE = st.one_of(
    st.characters(categories=["Cc", "Cf", "Zl", "Zp", "Co", "Cn"]),
    st.sampled_from(list(_PRINTABLE_BLANKS)),
)
NAME = st.text(alphabet=st.sampled_from(list("abcdefghDUPONTéèçÉ -'.")), min_size=1, max_size=12)


@settings(max_examples=300, deadline=None)
@given(NAME, INVISIBLE, st.data())
def test_any_invisible_character_in_a_nom_is_an_erreur_naming_it(
    name: str, ch: str, data: st.DataObject
) -> None:
    at = data.draw(st.integers(0, len(name)))
    nom = name[:at] + ch + name[at:]
    checked = check_row(Row(2, line(nom=nom)), TODAY, POLICY)
    assert checked.line is None
    first = next(i for i, c in enumerate(nom) if c == ch or (not c.isprintable() and c != " "))
    code = f"U+{ord(nom[first]):04X}"
    assert any(
        p.code is Code.ERREUR
        and p.message.startswith("Nom : ")
        and f" {code}" in p.message
        and p.message.split(" en position ")[1].startswith(f"{first + 1} ;")
        for p in checked.problems
    )


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Not a surrogate (no file can hold one) nor NUL (the file is then binary: rejected whole).
@given(
    INVISIBLE.filter(lambda c: c != "\x00" and not 0xD800 <= ord(c) <= 0xDFFF), st.integers(1, 5)
)
def test_a_nom_with_an_invisible_character_is_never_applied(ch: str, at: int) -> None:
    nom = "Dupont"[:at] + ch + "Dupont"[at:]  # inside: the parser trims only the edges
    with tempfile.TemporaryDirectory() as d:
        w = World(fresh_sqlite(Path(d)), Path(d), fast_settings(Path(d)))
        try:
            # csv.writer quotes a cell with a line break: the row stays one row.
            buffer = io.StringIO(newline="")
            csv.writer(buffer, delimiter=";").writerow(
                row("C", nom, "Jean", ident="jdupont", password=GOOD_PW)
            )
            path = Path(d) / "f.csv"
            path.write_text(buffer.getvalue(), encoding="utf-8")
            result = import_file(
                path, REFERENT, settings=w.settings, session_factory=w.sf, clock=w.clock
            )
            with w.sf() as session:
                assert [o.code for o in outcomes(session, result.run_id)] == [Code.ERREUR]
            assert w.scalar("SELECT count(*) FROM account") == 0
            assert w.scalar("SELECT count(*) FROM profile") == 0
        finally:
            w.close()
