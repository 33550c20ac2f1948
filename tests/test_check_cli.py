"""`profilesync check` through the real CLI, on the shared sample files and on broken input."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import typer

from clikit import run_cli, run_process, write_config
from profilesync.cli import app
from profilesync.cli import files as files_cli
from profilesync.clock import FixedClock
from profilesync.fileformat import messages
from profilesync.fileformat.columns import COLUMNS, EMAIL, NCOLS, NOM, PASSWORD, PRENOM, RPPS, TEAM
from profilesync.fileformat.outcome import Code
from profilesync.fileformat.report import read_report

SAMPLES = Path(__file__).parent / "data" / "samples"
REPORT_HEADER = ("\ufeffLigne;Code;Message;" + ";".join(COLUMNS) + "\r\n").encode("utf-8")
# The samples' dates are read as of this day (SPEC §3: a C with a past Date de fin is ERREUR).
TODAY = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch: pytest.MonkeyPatch) -> None:
    """In this process, `check` judges dates as of TODAY: the samples' dates never age."""
    monkeypatch.setattr(files_cli, "SystemClock", lambda: FixedClock(TODAY))


def sample(tmp_path: Path, name: str) -> Path:
    target = tmp_path / name
    shutil.copyfile(SAMPLES / name, target)
    return target


def all_commands() -> Iterator[list[str]]:
    # typer vendors its own click: a group is whatever has sub-commands.
    def walk(command: Any, path: list[str]) -> Iterator[list[str]]:
        yield path
        if hasattr(command, "commands"):
            for name, sub in command.commands.items():
                yield from walk(sub, [*path, name])

    yield from walk(typer.main.get_command(app), [])


def test_help_lists_every_command() -> None:
    proc = run_process("--help")
    assert proc.returncode == 0, proc.stderr
    top = [path[0] for path in all_commands() if len(path) == 1]
    assert {"template", "check"} <= set(top)
    for name in top:
        assert name in proc.stdout


@pytest.mark.parametrize("path", list(all_commands()), ids=lambda p: " ".join(p) or "(root)")
def test_every_command_has_help(path: list[str]) -> None:
    result = run_cli(*path, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_check_help_documents_the_exit_codes() -> None:
    result = run_cli("check", "--help")
    assert result.exit_code == 0
    text = " ".join(result.output.split())  # rich wraps lines at the terminal width
    assert "FILE" in text
    assert "--report" in text
    assert "--config" in text
    assert "Exit code: 0 no ERREUR, 1 at least one line in ERREUR, 2 file rejected." in text


def test_modele_is_zero_lines_exit_0_and_a_header_only_report(tmp_path: Path) -> None:
    path = sample(tmp_path, "modele.csv")
    proc = run_process("check", str(path))
    assert proc.returncode == 0, proc.stderr
    report = tmp_path / "modele.rapport.csv"
    assert proc.stdout == f"0 lignes : 0 OK, 0 ALERTE, 0 ERREUR\nreport: {report}\n"
    assert report.read_bytes() == REPORT_HEADER


def test_missing_input_is_exit_2_with_a_clear_message(tmp_path: Path) -> None:
    proc = run_process("check", str(tmp_path / "absent.csv"))
    assert proc.returncode == 2
    assert proc.stderr == f"error: file not found or unreadable: {tmp_path / 'absent.csv'}\n"
    assert "Traceback" not in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_directory_is_not_a_file(tmp_path: Path) -> None:
    proc = run_process("check", str(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: file not found or unreadable")


def test_report_would_overwrite_the_input(tmp_path: Path) -> None:
    path = sample(tmp_path, "modele.csv")
    proc = run_process("check", str(path), "--report", str(path))
    assert proc.returncode == 2
    assert proc.stderr == f"error: the report would overwrite the checked file: {path}\n"
    assert path.read_bytes() == (SAMPLES / "modele.csv").read_bytes()


def test_report_in_a_missing_directory_is_exit_2(tmp_path: Path) -> None:
    path = sample(tmp_path, "modele.csv")
    target = tmp_path / "nope" / "r.csv"
    proc = run_process("check", str(path), "--report", str(target))
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"error: cannot write the report {target}: ")
    assert "Traceback" not in proc.stderr


def test_broken_configuration_is_exit_2(tmp_path: Path) -> None:
    path = sample(tmp_path, "modele.csv")
    conf = write_config(tmp_path, limits={"max_rows": "x"})
    proc = run_process("check", str(path), config=conf)
    assert proc.returncode == 2
    assert "expected a number" in proc.stderr
    assert not (tmp_path / "modele.rapport.csv").exists()


def test_explicit_report_path(tmp_path: Path) -> None:
    path = sample(tmp_path, "modele.csv")
    target = tmp_path / "out.csv"
    result = run_cli("check", path, "--report", target)
    assert result.exit_code == 0
    assert result.output.endswith(f"report: {target}\n")
    assert target.read_bytes() == REPORT_HEADER
    assert not (tmp_path / "modele.rapport.csv").exists()


def report_rows(path: Path) -> list[tuple[int, Code, tuple[str, ...]]]:
    return [(o.line, o.code, o.messages) for o in read_report(path)]


def assert_report_format(report: Path) -> None:
    data = report.read_bytes()
    assert data.startswith(REPORT_HEADER)
    assert data.count(b"\n") == data.count(b"\r\n")
    for outcome in read_report(report):
        assert len(outcome.cells) == NCOLS


def check(path: Path, *args: str) -> tuple[int, str, Path]:
    result = run_cli("check", path, *args)
    return result.exit_code, result.stdout, path.with_name(f"{path.stem}.rapport.csv")


def test_excel_windows1252_sample(tmp_path: Path) -> None:
    code, out, report = check(sample(tmp_path, "excel-fr-windows1252.csv"))
    assert code == 1
    assert out == f"6 lignes : 4 OK, 1 ALERTE, 1 ERREUR\nreport: {report}\n"
    assert_report_format(report)
    assert report_rows(report) == [
        (2, Code.OK, ()),
        (3, Code.OK, ()),
        (4, Code.OK, ()),
        (5, Code.ALERTE, (messages.EMAIL_NOT_MSSANTE,)),
        # The sample's M line names no team, but CDC3E is a role in a team (SPEC §5).
        (6, Code.ERREUR, (messages.team_required("CDC3E"),)),
        (7, Code.OK, ()),
    ]
    rows = read_report(report)
    assert [r.cells[PASSWORD] for r in rows] == ["***", "***", "***", "***", "", ""]
    data = report.read_bytes()
    for password in (b"Tr3s-Secret-Pass!", b"Autre#Passe2026", b"Un-Mot2Passe", b"Encore-1-Mot"):
        assert password not in data
    # Windows-1252 in, UTF-8 out: the accents survive.
    assert rows[3].cells[NOM : PRENOM + 1] == ("Œuvre", "François")
    assert rows[2].cells[NOM : PRENOM + 1] == ("Garçon", "Cécile")


def test_libreoffice_utf8_sample(tmp_path: Path) -> None:
    code, out, report = check(sample(tmp_path, "libreoffice-utf8.csv"))
    assert code == 1
    assert out == f"2 lignes : 1 OK, 0 ALERTE, 1 ERREUR\nreport: {report}\n"
    assert_report_format(report)
    # No header in this file: the first row is line 1.
    assert report_rows(report) == [
        (1, Code.OK, ()),
        (2, Code.ERREUR, (messages.columns_shifted(1),)),
    ]
    data = report.read_bytes()
    # The quoted « ; » stays one cell, quoted again in the report.
    assert ';"Réanimation; médicale";'.encode() in data
    # The shifted row's password sits in the Email column: masked all the same.
    assert b"Paul-Martin-Pass-7" not in data
    assert b"Cle-Tres-Longue-9" not in data
    assert read_report(report)[1].cells[EMAIL] == "***"


def test_spreadsheet_damage_sample(tmp_path: Path) -> None:
    code, out, report = check(sample(tmp_path, "spreadsheet-damage.csv"))
    assert code == 1
    assert out == f"4 lignes : 0 OK, 0 ALERTE, 4 ERREUR\nreport: {report}\n"
    assert_report_format(report)
    completed = (
        messages.finess_completed("Finess EJ", "010780062"),
        messages.finess_completed("Finess ET", "010780062"),
    )
    # The sample's passwords contain the Nom, which the default policy refuses.
    assert report_rows(report) == [
        (
            2,
            Code.ERREUR,
            (
                *completed,
                messages.scientific_notation("N° RPPS"),
                messages.PASSWORD_CONTAINS_NOM,
            ),
        ),
        (
            3,
            Code.ERREUR,
            (
                *completed,
                messages.PASSWORD_CONTAINS_NOM,
                messages.date_iso("Date de début", "01/03/2026"),
            ),
        ),
        (
            4,
            Code.ERREUR,
            (
                *completed,
                messages.PASSWORD_CONTAINS_NOM,
                messages.date_serial("Date de début", "01/01/2024"),
            ),
        ),
        (5, Code.ERREUR, (messages.PASSWORD_CONTAINS_NOM,)),
    ]
    rows = read_report(report)
    # The report shows the cells as the référent typed them, not as completed.
    assert rows[0].cells[:2] == ("10780062", "10780062")
    assert rows[0].cells[RPPS] == "1,00000E+10"
    # The row whose trailing cells the spreadsheet dropped is padded to 13.
    assert rows[3].cells == (
        "010780062", "010780062", "", "C", "Roux", "Léa", "", "OEC1", "lroux", "***", "", "", "",
    )  # fmt: skip


def test_csv_injection_guard_end_to_end(tmp_path: Path) -> None:
    path = tmp_path / "injection.csv"
    cells = [
        "750712184", "750100125", "-2+3", "C", '=HYPERLINK("http://evil","x")', "@SUM(A1)",
        "", "CDC1", "jdoe", "=Pass-Word-2026", "+33612345678", "", "",
    ]  # fmt: skip
    path.write_text(";".join(cells) + "\r\n", encoding="utf-8")
    code, _, report = check(path)
    (row,) = read_report(report)
    assert row.cells[TEAM] == "'-2+3"
    assert row.cells[NOM] == '\'=HYPERLINK("http://evil","x")'
    assert row.cells[PRENOM] == "'@SUM(A1)"
    assert row.cells[PASSWORD] == "***"
    assert row.cells[EMAIL] == "'+33612345678"
    # SPEC 2b: such names are refused (the guard still applies to the cells shown).
    allowed = "lettres, espaces, traits d'union, apostrophes et points seulement"
    assert row.messages == (
        f"Nom : caractère « = » non autorisé en position 1 ; {allowed}",
        f"Prénom : caractère « @ » non autorisé en position 1 ; {allowed}",
        messages.EMAIL_MALFORMED,
    )
    assert code == 1
    assert b";=" not in report.read_bytes()


def test_rejected_file_is_exit_2_with_a_ligne_0_report(tmp_path: Path) -> None:
    path = tmp_path / "virgules.csv"
    path.write_text(
        "750712184,750100125,,C,Dupont,Jean,10000000017,CDC3D,,,,,\r\n" * 3, encoding="utf-8"
    )
    result = run_cli("check", path)
    report = tmp_path / "virgules.rapport.csv"
    reason = messages.wrong_separator(",")
    assert result.exit_code == 2
    assert result.stdout == f"report: {report}\n"
    assert result.stderr == f"error: file rejected: {reason}\n"
    assert report.read_bytes() == REPORT_HEADER + (
        "0;ERREUR;" + _csv_cell(reason) + ";" * NCOLS + "\r\n"
    ).encode("utf-8")


def test_row_limit_from_the_config_file(tmp_path: Path) -> None:
    path = sample(tmp_path, "excel-fr-windows1252.csv")
    conf = write_config(tmp_path, limits={"max_rows": 2})
    result = run_cli("check", path, config=conf)
    assert result.exit_code == 2
    report = tmp_path / "excel-fr-windows1252.rapport.csv"
    assert report_rows(report) == [(0, Code.ERREUR, (messages.too_many_rows(6, 2),))]


def test_row_limit_from_the_environment(tmp_path: Path) -> None:
    path = sample(tmp_path, "excel-fr-windows1252.csv")
    proc = run_process("check", path, env={"PROFILESYNC_LIMITS_MAX_ROWS": "5"})
    assert proc.returncode == 2
    assert proc.stderr == f"error: file rejected: {messages.too_many_rows(6, 5)}\n"
    assert "Traceback" not in proc.stderr


def test_an_old_report_is_replaced_whole(tmp_path: Path) -> None:
    path = sample(tmp_path, "modele.csv")
    report = tmp_path / "modele.rapport.csv"
    report.write_bytes(b"ancien rapport, bien plus long que le nouveau\r\n" * 100)
    assert run_cli("check", path).exit_code == 0
    assert report.read_bytes() == REPORT_HEADER
    assert sorted(p.name for p in tmp_path.iterdir()) == ["modele.csv", "modele.rapport.csv"]


def _csv_cell(text: str) -> str:
    """`text` as csv.writer quotes it (RFC 4180)."""
    if any(c in text for c in ';"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text
