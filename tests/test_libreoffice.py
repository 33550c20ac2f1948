"""A real spreadsheet in the suite (issue 15, SPEC 2b): LibreOffice Calc, headless, opens the
export and the template the way a référent's Calc or Excel does, saves them back as CSV, and
each round trip is imported through the CLI.

- unchanged: 0 changes and 0 ERREUR, the export after equals the export before (a file
  saved in Windows-1252 is the exception SPEC 2b names: its lines whose names lost a
  character are refused with the UTF-8 hint, and nothing changes);
- edited: exactly the edits are applied;
- the template filled as a person types it (dates and digits into Standard cells) creates
  exactly what was typed.

Run them alone with `pytest -m spreadsheet`. Without soffice they skip loudly, and fail
under PROFILESYNC_TEST_REQUIRE_ALL=1 (CI): see `find_soffice`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest
from openpyxl.cell.cell import Cell
from stdnum import luhn

from clikit import run_cli, write_config
from fixtures_db import missing_backend
from profilesync.fileformat.columns import COLUMNS
from profilesync.fileformat.outcome import Code
from profilesync.fileformat.report import read_report

pytestmark = pytest.mark.spreadsheet

SOFFICE_TIMEOUT = 300.0  # seconds: a first start builds the profile
REFERENT = "ref"
PASSWORD = "Correct-Horse-42"
LOST = "un caractère a été perdu à l'enregistrement : enregistrez le fichier en « CSV UTF-8 »"
# Real FINESS (FINESS.md): the Ain (leading zero), Haute-Corse (2B), Paris (AP-HP).
AIN = ("010780062", "010780062")
CORSE = ("2B0004246", "2B0000038")
PARIS = ("750712184", "750100125")
ESTABLISHMENTS = (AIN, CORSE, PARIS)
# Calc in French: the language of the cells (1036 = fr-FR) and the locale dates are shown in.
LANGUAGE = 1036
FRENCH = {"LC_ALL": "fr_FR.UTF-8", "LANG": "fr_FR.UTF-8"}
UTF8, WINDOWS_1252 = 76, 1
ALL_TEXT = "/".join(f"{i}/2" for i in range(1, len(COLUMNS) + 1))  # column/format 2 = Text


def find_soffice() -> str:
    """soffice, or a loud skip (a developer's machine) / failure (CI: REQUIRE_ALL)."""
    path = shutil.which("soffice")
    if path is None:
        missing_backend("LibreOffice Calc (soffice; Debian package libreoffice-calc-nogui)")
    assert path is not None
    return path


@dataclass
class Calc:
    """soffice with its own profile (parallel sessions never share one) and a cache of
    conversions: both engines' tests convert the same bytes the same way."""

    soffice: str
    folder: Path
    cache: dict[str, list[bytes]] = field(default_factory=dict)
    runs: int = 0

    def convert(self, sources: list[Path], target: str, infilter: str | None = None) -> list[bytes]:
        key = hashlib.sha256(
            repr((target, infilter, [p.suffix for p in sources])).encode()
            + b"".join(hashlib.sha256(p.read_bytes()).digest() for p in sources)
        ).hexdigest()
        if key not in self.cache:
            self.runs += 1
            src = self.folder / f"in-{self.runs}"
            out = self.folder / f"out-{self.runs}"
            src.mkdir()
            names = [f"f{i}{p.suffix}" for i, p in enumerate(sources)]
            for name, p in zip(names, sources, strict=True):
                shutil.copyfile(p, src / name)
            argv = [
                self.soffice,
                f"-env:UserInstallation={(self.folder / 'profile').as_uri()}",
                "--headless",
                *([f"--infilter={infilter}"] if infilter else []),
                "--convert-to",
                target,
                "--outdir",
                str(out),
                *names,
            ]
            done = subprocess.run(
                argv,
                cwd=src,
                capture_output=True,
                text=True,
                env={**os.environ, **FRENCH},
                timeout=SOFFICE_TIMEOUT,
                check=False,
            )
            extension = target.split(":", 1)[0]
            results = [out / f"{Path(n).stem}.{extension}" for n in names]
            missing = [r.name for r in results if not r.exists()]
            assert not missing, f"soffice wrote no {missing}: {done.stdout} {done.stderr}"
            self.cache[key] = [r.read_bytes() for r in results]
        return self.cache[key]


@pytest.fixture(scope="session")
def calc(tmp_path_factory: pytest.TempPathFactory) -> Calc:
    return Calc(find_soffice(), tmp_path_factory.mktemp("libreoffice"))


def csv_infilter(charset: int = UTF8, *, detect_special: bool, text: bool) -> str:
    """Calc's « Import de texte » dialog: separator `;` (59), `"` (34), the charset, from
    line 1, the columns' types, French, quoted fields not forced to text, « Détecter les
    nombres spéciaux » on or off."""
    formats = ALL_TEXT if text else ""
    special = "true" if detect_special else "false"
    return f"CSV:59,34,{charset},1,{formats},{LANGUAGE},false,{special}"


def csv_target(charset: int) -> str:
    """« Enregistrer sous » > « Texte CSV », separator `;`, `"`, the charset."""
    return f"csv:Text - txt - csv (StarCalc):59,34,{charset},1"


# --- the data: ~37 profiles in three establishments, imported through the CLI -----------------

NAMES = [
    ("Łukasiewicz", "Jan"), ("Nguyễn", "Thị Lan"), ("Müller", "Jürgen"), ("O'Brien", "Siobhán"),
    ("D’Arc", "Jeanne"), ("Martin", "Jean-Pierre"), ("Garçon", "Cécile"), ("Œuvre", "François"),
    ("Petit", "Emma"), ("Roux", "Léa"), ("Moreau", "Hugo"), ("Bernard", "Luc"),
    ("Dubois", "Chloé"), ("Lefèvre", "Noé"), ("Fontaine", "Zoé"), ("Rousseau", "Inès"),
    ("Vincent", "Maël"), ("Muller", "Anaïs"), ("Faure", "Élodie"), ("André", "Loïc"),
    ("Mercier", "Gaëlle"), ("Blanc", "Hélène"), ("Guérin", "Jérôme"), ("Boyer", "Agnès"),
    ("Garnier", "Raphaël"), ("Chevalier", "Aurélie"), ("François", "Benoît"),
    ("Legrand", "Céline"), ("Gauthier", "Mathéo"), ("Perrin", "Lucie"), ("Morin", "Théo"),
    ("Clément", "Océane"), ("Nicolas", "Timothée"), ("Henry", "Maëlys"), ("Roussel", "Anaëlle"),
    ("Mathieu", "Grégoire"), ("Da Silva", "João"),
]  # fmt: skip
ROLES = ["CDC3D", "CDC3E", "CDC1", "CDC4", "OEC1", "SYNT", "CDC2"]
TEAMS = ["Urgences", "Médecine interne", "Pédiatrie"]
DOCTOR_ROLES = {"CDC3D", "CDC3E"}
TEAM_ROLES = {"CDC3E", "CDC4"}


def rpps(n: int) -> str:
    body = f"1{n:09d}"
    return body + luhn.calc_check_digit(body)


def profiles() -> list[list[str]]:
    """The C lines of the world: every role, teams, emails, dates, a numeric login."""
    rows = []
    for i, (nom, prenom) in enumerate(NAMES):
        ej, et = ESTABLISHMENTS[i % 3]
        role = ROLES[i % len(ROLES)]
        doctor = role in DOCTOR_ROLES
        login = "" if doctor else ("0045871" if i == 2 else f"agent{i:02d}")
        team = TEAMS[i % len(TEAMS)] if role in TEAM_ROLES or i % 5 == 0 else ""
        team = "" if role == "CDC3D" else team
        email = f"{login or 'dr' + str(i)}@ch-{i % 3}.mssante.fr" if i % 2 else ""
        debut = "01/09/2025" if i % 4 == 1 else ""
        fin = "30/06/2035" if i % 4 == 2 else ""
        rows.append(
            [ej, et, team, "C", nom, prenom, rpps(i + 1) if doctor else "", role, login,
             PASSWORD, email, debut, fin]
        )  # fmt: skip
    return rows


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    lines = [";".join(COLUMNS), *(";".join(r) for r in rows)]
    path.write_bytes(("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8"))
    return path


@dataclass
class World:
    tmp: Path
    config: Path

    def cli(self, *args: str | Path, expect: int = 0) -> str:
        res = run_cli(*args, config=self.config)
        assert res.exit_code == expect, res.output
        return res.stdout

    def export(self, et: str, name: str) -> Path:
        path = self.tmp / f"{name}-{et}.csv"
        self.cli("export", "--et", et, "--output", path)
        return path

    def exports(self, name: str) -> list[Path]:
        return [self.export(et, name) for _, et in ESTABLISHMENTS]

    def import_(self, path: Path) -> list[tuple[int, Code, tuple[str, ...]]]:
        report = path.with_name(path.stem + ".rapport.csv")
        res = run_cli("import", path, "--as", REFERENT, "--report", report, config=self.config)
        assert res.exit_code in (0, 1), res.output
        return [(o.line, o.code, o.messages) for o in read_report(report)]


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path, write_config(tmp_path, database={"url": db_url}))
    for ej, et in ESTABLISHMENTS:
        w.cli("establishment", "add", "--ej", ej, "--et", et)
    w.cli("referent", "add", REFERENT, *[a for _, et in ESTABLISHMENTS for a in ("--et", et)])
    outcomes = w.import_(write_csv(tmp_path / "creation.csv", profiles()))
    assert [c for _, c, _ in outcomes] == [Code.OK] * len(NAMES), outcomes
    yield w


def rows_of(data: bytes) -> set[str]:
    return set(data.decode("utf-8-sig").splitlines()[1:])


def changes(db_url: str) -> int:
    """Audit rows: every change the store made, whatever it was."""
    import sqlalchemy as sa

    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text("SELECT count(*) FROM audit")).scalar_one())
    finally:
        engine.dispose()


# --- unchanged round trips --------------------------------------------------------------------

ROUND_TRIPS = [
    pytest.param((charset, special, text), id=f"{name}-{'detect' if special else 'plain'}-{kind}")
    for charset, name in ((UTF8, "utf8"), (WINDOWS_1252, "cp1252"))
    for special in (True, False)
    for text, kind in ((False, "standard"), (True, "text"))
]
# The names Windows-1252 cannot hold (Ł, ễ, ị): what a « CSV (Windows-1252) » save loses.
NOT_IN_1252 = {"Łukasiewicz", "Nguyễn"}


@pytest.mark.parametrize("trip", ROUND_TRIPS)
def test_an_unchanged_round_trip_changes_nothing(
    calc: Calc, world: World, db_url: str, trip: tuple[int, bool, bool]
) -> None:
    charset, special, text = trip
    before = world.exports("before")
    audits = changes(db_url)
    saved = calc.convert(
        before, csv_target(charset), csv_infilter(UTF8, detect_special=special, text=text)
    )
    lost = 0
    for i, data in enumerate(saved):
        path = world.tmp / f"saved-{i}.csv"
        path.write_bytes(data)
        outcomes = world.import_(path)
        for line, code, messages in outcomes:
            cells = data.decode("utf-8" if charset == UTF8 else "cp1252").splitlines()[line - 1]
            if charset == WINDOWS_1252 and "?" in cells:
                lost += 1
                assert code is Code.ERREUR, cells
                assert f"Nom : {LOST}" in messages, messages
                assert all(m.endswith(LOST) or "complété" in m for m in messages), messages
            elif text:  # columns as Text: the file comes back as it left
                assert (code, messages) == (Code.OK, ()), cells
            else:
                assert code is not Code.ERREUR, (cells, messages)
    assert changes(db_url) == audits
    assert [p.read_bytes() for p in world.exports("after")] == [p.read_bytes() for p in before]
    assert lost == (len(NOT_IN_1252) if charset == WINDOWS_1252 else 0)


# --- edited round trip: exactly the edits -----------------------------------------------------

# How Calc shows a date typed into a Standard cell (the issue: `30/06/27`).
TYPED_DATE = "DD/MM/YY"


def typed_date(cell: Cell, value: datetime) -> None:
    cell.value = value
    cell.number_format = TYPED_DATE


def _cells(line: str) -> list[str]:
    return line.split(";")


def test_an_edited_round_trip_applies_exactly_the_edits(calc: Calc, world: World) -> None:
    """The Paris export opened as Excel opens it (Standard columns, special numbers
    detected), edited cell by cell, saved as « CSV UTF-8 »."""
    (before,) = [p for p in world.exports("before") if PARIS[1] in p.name]
    (book,) = calc.convert([before], "xlsx", csv_infilter(UTF8, detect_special=True, text=False))
    xlsx = world.tmp / "edited.xlsx"
    xlsx.write_bytes(book)
    wb = openpyxl.load_workbook(xlsx)
    ws = wb.active
    assert ws is not None
    by_nom = {row[4].value: row for row in ws.iter_rows(min_row=2)}
    by_nom["Bernard"][10].value = "luc.bernard@aphp.mssante.fr"  # Email
    typed_date(by_nom["Petit"][12], datetime(2031, 12, 31))  # Date de fin
    by_nom["Martin"][3].value = "S"  # Code action
    ws.append(
        [int(PARIS[0]), int(PARIS[1]), None, "C", "Nouveau", "Zoé", None, "CDC1", "znouveau",
         PASSWORD, None, None, None]
    )  # fmt: skip
    typed_date(ws.cell(ws.max_row, 12), datetime(2026, 1, 5))  # Date de début
    wb.save(xlsx)
    (saved,) = calc.convert([xlsx], csv_target(UTF8))
    path = world.tmp / "edited.csv"
    path.write_bytes(saved)

    outcomes = world.import_(path)
    assert not [o for o in outcomes if o[1] is Code.ERREUR], outcomes

    expected = set()
    for line in rows_of(before.read_bytes()):
        cells = _cells(line)
        if cells[4] == "Martin":
            continue  # deleted
        if cells[4] == "Bernard":
            cells[10] = "luc.bernard@aphp.mssante.fr"
        if cells[4] == "Petit":
            cells[12] = "31/12/2031"
        expected.add(";".join(cells))
    expected.add(f"{PARIS[0]};{PARIS[1]};;M;Nouveau;Zoé;;CDC1;znouveau;;;05/01/2026;")
    (after,) = [p for p in world.exports("after") if PARIS[1] in p.name]
    assert rows_of(after.read_bytes()) == expected


# --- the template, filled the way a person types it -------------------------------------------


def test_the_template_typed_into_standard_cells_creates_what_was_typed(
    calc: Calc, world: World
) -> None:
    template = world.tmp / "modele.csv"
    template.write_bytes(run_cli("template").stdout_bytes)
    header = template.read_text(encoding="utf-8-sig").strip().split(";")
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(header)
    # Digits typed into Standard cells become numbers: the FINESS loses its 0, the RPPS is
    # a number; dates typed 01/09/2026 are shown 01/09/26.
    ws.append(
        [int(AIN[0]), int(AIN[1]), None, "C", "Łukasiewicz", "Anna", int(rpps(100)), "CDC3D",
         None, PASSWORD, None, None, None]
    )  # fmt: skip
    typed_date(ws.cell(2, 12), datetime(2026, 9, 1))
    typed_date(ws.cell(2, 13), datetime(2035, 6, 30))
    ws.append(
        [CORSE[0], CORSE[1], "Urgences", "C", "Nguyễn", "Văn Minh", None, "CDC4", "vminh",
         PASSWORD, "vminh@ch-1.mssante.fr", None, None]
    )  # fmt: skip
    ws.append(
        [int(PARIS[0]), int(PARIS[1]), None, "C", "O'Connor", "Siobhán", None, "OEC1",
         "soconnor", PASSWORD, None, None, None]
    )  # fmt: skip
    typed_date(ws.cell(4, 13), datetime(2030, 1, 31))
    ws.append(
        [int(PARIS[0]), int(PARIS[1]), "Pédiatrie", "C", "Durand", "Paul", int(rpps(101)),
         "CDC3E", None, PASSWORD, None, None, None]
    )  # fmt: skip
    xlsx = world.tmp / "modele-rempli.xlsx"
    wb.save(xlsx)
    before = [p.read_bytes() for p in world.exports("before")]
    (saved,) = calc.convert([xlsx], csv_target(UTF8))
    path = world.tmp / "modele-rempli.csv"
    path.write_bytes(saved)

    outcomes = world.import_(path)
    assert [(line, code) for line, code, _ in outcomes] == [
        (2, Code.OK), (3, Code.OK), (4, Code.OK), (5, Code.OK)
    ]  # fmt: skip
    assert outcomes[0][2] == (
        "Finess EJ complété : 010780062",
        "Finess ET complété : 010780062",
        "date de début complétée : 01/09/2026",
        "date de fin complétée : 30/06/2035",
    )
    created = set()
    for old, new in zip(before, world.exports("after"), strict=True):
        assert rows_of(old) <= rows_of(new.read_bytes())
        created |= rows_of(new.read_bytes()) - rows_of(old)
    assert created == {
        f"{AIN[0]};{AIN[1]};;M;Łukasiewicz;Anna;{rpps(100)};CDC3D;;;;01/09/2026;30/06/2035",
        f"{CORSE[0]};{CORSE[1]};Urgences;M;Nguyễn;Văn Minh;;CDC4;vminh;;vminh@ch-1.mssante.fr;;",
        f"{PARIS[0]};{PARIS[1]};;M;O'Connor;Siobhán;;OEC1;soconnor;;;;31/01/2030",
        f"{PARIS[0]};{PARIS[1]};Pédiatrie;M;Durand;Paul;{rpps(101)};CDC3E;;;;;",
    }


# --- the fault: no soffice --------------------------------------------------------------------


def test_without_soffice_ci_fails_and_a_developer_is_told_loudly(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no soffice on it
    monkeypatch.setenv("PROFILESYNC_TEST_REQUIRE_ALL", "1")
    with pytest.raises(pytest.fail.Exception, match=r"BACKEND MISSING: LibreOffice Calc"):
        find_soffice()
    monkeypatch.delenv("PROFILESYNC_TEST_REQUIRE_ALL")
    with pytest.raises(pytest.skip.Exception, match=r"BACKEND MISSING: LibreOffice Calc"):
        find_soffice()
