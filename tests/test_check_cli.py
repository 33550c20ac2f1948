"""`profilesync check` through the real CLI, on the shared sample files and on broken input."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from profilesync.cli import app
from profilesync.cli import files as files_cli
from profilesync.clock import FixedClock
from profilesync.columns import COLUMNS, NCOLS
from profilesync.outcome import Code
from profilesync.report import read_report

SAMPLES = Path(__file__).parent / "data" / "samples"
REPORT_HEADER = ("\ufeffLigne;Code;Message;" + ";".join(COLUMNS) + "\r\n").encode("utf-8")
# The samples' dates are read as of this day (SPEC §3: a C with a past Date de fin is ERREUR).
TODAY = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "profilesync", *args], capture_output=True, text=True, check=False
    )


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """The real app in-process, with the clock fixed so that the samples' dates never age."""
    monkeypatch.setattr(files_cli, "SystemClock", lambda: FixedClock(TODAY))
    monkeypatch.delenv("PROFILESYNC_CONFIG", raising=False)
    yield CliRunner()


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
    proc = run_cli("--help")
    assert proc.returncode == 0, proc.stderr
    top = [path[0] for path in all_commands() if len(path) == 1]
    assert {"template", "check"} <= set(top)
    for name in top:
        assert name in proc.stdout


@pytest.mark.parametrize("path", list(all_commands()), ids=lambda p: " ".join(p) or "(root)")
def test_every_command_has_help(path: list[str]) -> None:
    result = CliRunner().invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_check_help_documents_the_exit_codes() -> None:
    result = CliRunner().invoke(app, ["check", "--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())  # rich wraps lines at the terminal width
    assert "FICHIER" in text
    assert "--report" in text
    assert "--config" in text
    assert "0 aucune ERREUR, 1 au moins une ligne en ERREUR, 2 fichier refusé" in text


def test_modele_is_zero_lines_exit_0_and_a_header_only_report(tmp_path: Path) -> None:
    path = sample(tmp_path, "modele.csv")
    proc = run_cli("check", str(path))
    assert proc.returncode == 0, proc.stderr
    report = tmp_path / "modele.rapport.csv"
    assert proc.stdout == f"0 lignes : 0 OK, 0 ALERTE, 0 ERREUR\nRapport : {report}\n"
    assert report.read_bytes() == REPORT_HEADER


def test_missing_input_is_exit_2_with_a_french_message(tmp_path: Path) -> None:
    proc = run_cli("check", str(tmp_path / "absent.csv"))
    assert proc.returncode == 2
    assert proc.stderr == f"erreur : fichier introuvable ou illisible : {tmp_path / 'absent.csv'}\n"
    assert "Traceback" not in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_directory_is_not_a_file(tmp_path: Path) -> None:
    proc = run_cli("check", str(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr.startswith("erreur : fichier introuvable ou illisible")


def test_report_would_overwrite_the_input(tmp_path: Path) -> None:
    path = sample(tmp_path, "modele.csv")
    proc = run_cli("check", str(path), "--report", str(path))
    assert proc.returncode == 2
    assert proc.stderr == f"erreur : le rapport écraserait le fichier vérifié : {path}\n"
    assert path.read_bytes() == (SAMPLES / "modele.csv").read_bytes()


def test_report_in_a_missing_directory_is_exit_2(tmp_path: Path) -> None:
    path = sample(tmp_path, "modele.csv")
    target = tmp_path / "nope" / "r.csv"
    proc = run_cli("check", str(path), "--report", str(target))
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"erreur : impossible d'écrire le rapport {target} : ")
    assert "Traceback" not in proc.stderr


def test_broken_configuration_is_exit_2(tmp_path: Path) -> None:
    path = sample(tmp_path, "modele.csv")
    conf = tmp_path / "c.toml"
    conf.write_text("[limits]\nmax_rows = 'x'\n", encoding="utf-8")
    proc = run_cli("check", str(path), "--config", str(conf))
    assert proc.returncode == 2
    assert "expected a number" in proc.stderr
    assert not (tmp_path / "modele.rapport.csv").exists()


def test_explicit_report_path(runner: CliRunner, tmp_path: Path) -> None:
    path = sample(tmp_path, "modele.csv")
    target = tmp_path / "out.csv"
    result = runner.invoke(app, ["check", str(path), "--report", str(target)])
    assert result.exit_code == 0
    assert result.output.endswith(f"Rapport : {target}\n")
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
