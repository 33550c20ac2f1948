"""Issue 10.5 and 10.6: the seed's column names, a report dropped back, report names in
local time, and the French a référent reads (literal texts: the guide's)."""

from __future__ import annotations

import dataclasses
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from clikit import run_cli
from daemonkit import Inbox, account_row, report_rows
from importkit import GOOD_PW, row, write_csv
from profilesync import layout
from profilesync.config import Settings
from profilesync.fileformat import csvfile
from profilesync.fileformat.columns import COLUMNS
from profilesync.fileformat.csvscan import FileRejected
from profilesync.fileformat.roles import ROLES, Role

DAEMON = Path(__file__).resolve().parents[1] / "daemon" / "profilesync"
GUIDE = Path(__file__).resolve().parents[1] / "docs" / "guide-referent.md"

# The header row of a file made from the seed's column table, as a spreadsheet writes it.
SEED_LINE = (
    "N° Finess EJ;N° Finess ET;Nom de l'équipe;Code action;Nom;Prénom;N° RPPS;Rôle;Identifiant;"
    "Mot de passe;Adresse email;Date de début de validité du profil;"
    "Date de Fin de validité du profil"
)
SEED_HEADER = SEED_LINE.split(";")
REPORT_DROPPED = (
    "Ce fichier est un rapport (ses premières colonnes sont Ligne, Code et Message), pas un "
    "fichier d'import : il n'a pas été traité. Pour corriger des lignes en ERREUR, supprimez "
    "les colonnes Ligne, Code et Message et les lignes déjà OK, ressaisissez les mots de passe "
    "(le rapport les remplace par ***), puis déposez le fichier."
)


def checked(tmp_path: Path, rows: list[list[str]]) -> tuple[str, list[list[str]]]:
    """`profilesync check` of `rows` (no header added): its stdout's first line, its report."""
    path = write_csv(tmp_path / "f.csv", rows, header=False)
    res = run_cli("check", str(path))
    assert res.exit_code in {0, 1}, res.output
    return res.output.splitlines()[0], report_rows(tmp_path / "f.rapport.csv")


# --- 10.5: the seed's header -----------------------------------------------------------------


def test_the_seed_header_is_a_header(tmp_path: Path) -> None:
    summary, report = checked(tmp_path, [SEED_HEADER, row("C", password=GOOD_PW)])
    assert summary == "1 ligne : 1 OK, 0 ALERTE, 0 ERREUR"
    assert [r[:2] for r in report[1:]] == [["2", "OK"]]


def test_the_seed_header_is_matched_without_case_or_accents(tmp_path: Path) -> None:
    typed = [name.upper().replace("É", "E").replace("È", "E") for name in SEED_HEADER]
    typed[10] = "adresse  EMAIL"
    summary, _ = checked(tmp_path, [typed, row("C", password=GOOD_PW)])
    assert summary == "1 ligne : 1 OK, 0 ALERTE, 0 ERREUR"


def test_seed_and_template_names_mixed_are_a_header(tmp_path: Path) -> None:
    mixed = [*SEED_HEADER[:6], *COLUMNS[6:]]
    summary, _ = checked(tmp_path, [mixed, row("C", password=GOOD_PW)])
    assert summary == "1 ligne : 1 OK, 0 ALERTE, 0 ERREUR"


def test_a_header_that_is_neither_is_a_line_as_before(tmp_path: Path) -> None:
    """Abuse: names of no known kind are no header: the row is judged, and is ERREUR."""
    summary, report = checked(
        tmp_path, [[f"Colonne {c}" for c in "ABCDEFGHIJKLM"], row("C", password=GOOD_PW)]
    )
    assert summary == "2 lignes : 1 OK, 0 ALERTE, 1 ERREUR"
    assert [r[:2] for r in report[1:]] == [["1", "ERREUR"], ["2", "OK"]]


def test_seed_columns_out_of_order_are_refused(tmp_path: Path) -> None:
    """Fault: seed names in another order are refused, as template names are."""
    swapped = [*SEED_HEADER[:4], SEED_HEADER[5], SEED_HEADER[4], *SEED_HEADER[6:]]
    path = write_csv(tmp_path / "f.csv", [swapped, row("C", password=GOOD_PW)], header=False)
    res = run_cli("check", str(path))
    assert res.exit_code == 2
    assert report_rows(tmp_path / "f.rapport.csv")[1][:3] == [
        "0",
        "ERREUR",
        "Les colonnes ne sont pas dans l'ordre attendu : « Prénom » est en colonne 5 au lieu "
        "de 6. Remettez les colonnes dans l'ordre du modèle.",
    ]


# --- 10.6: a report dropped back, report names, wording ---------------------------------------


def test_a_report_dropped_back_in_the_inbox_is_recognised(box: Inbox) -> None:
    box.drop("profils.csv", [account_row(1)])
    box.settle()
    [first] = box.reports()
    shutil.copy(first, box.folder() / "profils-corrige.csv")
    box.settle()
    [second] = [r for r in box.reports() if r.name.startswith("profils-corrige.")]
    assert report_rows(second)[1][:3] == ["0", "ERREUR", REPORT_DROPPED]
    assert box.scalar("SELECT count(*) FROM profile") == 1  # nothing applied twice


def test_a_report_without_its_header_row_is_recognised_too(tmp_path: Path) -> None:
    """The header deleted, the first row still starts with a line number and a code."""
    path = write_csv(
        tmp_path / "f.csv",
        [["2", "OK", "Compte créé", *row("C", password=GOOD_PW)], row("C", password=GOOD_PW)],
        header=False,
    )
    res = run_cli("check", str(path))
    assert res.exit_code == 2
    assert report_rows(tmp_path / "f.rapport.csv")[1][:3] == ["0", "ERREUR", REPORT_DROPPED]


def test_a_report_row_further_down_is_a_shifted_line(tmp_path: Path) -> None:
    """Abuse: only the first row can tell a report; a pasted report row below is a line."""
    summary, report = checked(
        tmp_path,
        [row("C", password=GOOD_PW), ["2", "OK", "Compte créé", *row("C", password=GOOD_PW)]],
    )
    assert summary == "2 lignes : 1 OK, 0 ALERTE, 1 ERREUR"
    assert report[2][2].startswith("Colonnes décalées")


def test_report_names_carry_the_local_time() -> None:
    settings = Settings()
    assert layout.report_stamp(datetime(2026, 3, 15, 10, 0, tzinfo=UTC), settings) == (
        "2026-03-15_11h00"
    )
    assert layout.report_stamp(datetime(2026, 7, 1, 22, 30, tzinfo=UTC), settings) == (
        "2026-07-02_00h30"
    )
    reunion = dataclasses.replace(
        settings, daemon=dataclasses.replace(settings.daemon, timezone="Indian/Reunion")
    )
    assert layout.report_stamp(datetime(2026, 7, 1, 22, 30, tzinfo=UTC), reunion) == (
        "2026-07-02_02h30"
    )


def test_a_row_filled_up_to_column_16_names_column_16(tmp_path: Path) -> None:
    """« 16 cellules remplies » was said of a row with 10 filled cells."""
    cells = ["750100125", "750712184", "", "C", "Martin", "Claire", "", "CDC1", "cmartin"]
    cells += [""] * 6 + ["note"]
    _, report = checked(tmp_path, [cells])
    assert report[1][1:3] == [
        "ERREUR",
        "Colonnes décalées : une cellule est remplie en colonne 16, au-delà des 13 colonnes du "
        "modèle, sans doute un « ; » dans une valeur sans guillemets ; entourez la valeur de "
        "guillemets ou retirez le « ; » (les autres colonnes n'ont pas été vérifiées)",
    ]


def test_oec_labels_are_the_seeds() -> None:
    assert ROLES[Role.OEC1].label == "Officier d'état civil (accès volet administratif)"
    assert ROLES[Role.OEC2].label == (
        "Officier d'état civil (accès volet administratif et volet médical)"
    )


# Words a référent must not read: operator jargon, commands, technical units.
_JARGON = re.compile(
    r"exploitant|\blogin\b|profilesync (?:approve|referent|rerun|check|template)|\bMio\b|"
    r"octets? nul|l'octet|n° de série|a été prévenue"
)


def test_no_jargon_in_the_messages_or_the_guide() -> None:
    source = (DAEMON / "fileformat" / "messages.py").read_text(encoding="utf-8")
    # The literals, not the comments nor the names of the values put in them.
    strings = re.sub(r"\{[^}]*\}", "", "\n".join(re.findall(r'"[^"\n]*"', source)))
    assert _JARGON.findall(strings) == []
    assert _JARGON.findall(GUIDE.read_text(encoding="utf-8")) == []


# --- the header, as property: any mix of the two namings, typed any way --------------------

TEMPLATE_LINE = (
    "Finess EJ;Finess ET;Nom de l'équipe;Code action;Nom;Prénom;N° RPPS;Rôle;Identifiant;"
    "Mot de passe;Email;Date de début;Date de fin"
)
_UNACCENTED = str.maketrans("éèÉÈ°", "eeEE ")


def _typed(name: str, how: int) -> str:
    """A column name as someone may type it: as is, upper, lower, without accents, spaced."""
    return [
        name,
        name.upper(),
        name.lower(),
        name.translate(_UNACCENTED),
        "  " + name.replace(" ", "   ") + " ",
    ][how]


@settings(max_examples=200, deadline=None)
@given(
    seed=st.lists(st.booleans(), min_size=13, max_size=13),
    how=st.lists(st.integers(0, 4), min_size=13, max_size=13),
)
def test_any_mix_of_seed_and_template_names_is_a_header(seed: list[bool], how: list[int]) -> None:
    names = zip(SEED_HEADER, TEMPLATE_LINE.split(";"), strict=True)
    cells = tuple(
        _typed(s if pick else t, h) for (s, t), pick, h in zip(names, seed, how, strict=True)
    )
    assert csvfile.is_header(tuple(c.strip() for c in cells))


@settings(max_examples=200, deadline=None)
@given(st.permutations(range(13)))
def test_seed_names_out_of_order_are_refused_or_not_a_header(order: list[int]) -> None:
    """Fault: moved seed columns are never read as a header in place."""
    cells = tuple(SEED_HEADER[i] for i in order)
    if list(order) == list(range(13)):
        assert csvfile.is_header(cells)
        return
    try:
        assert not csvfile.is_header(cells)
    except FileRejected as rejected:
        assert rejected.reason.startswith("Les colonnes ne sont pas dans l'ordre attendu")
