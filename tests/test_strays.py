"""What is dropped and is no CSV file gets a report saying why (issue 9): an Excel or
LibreOffice workbook, a text file, a shortcut, a folder named like a CSV file, a FIFO.
Through the daemon's burst mode on both engines; expected messages written out literally.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from daemonkit import REFERENT, Inbox, account_row, report_rows, write_csv
from profilesync.service import status

STAMP = "2026-03-15_11h00"  # daemonkit's FixedClock, 2026-03-15 10:00 UTC, in Paris time
EXCEL = (
    "Fichier ignoré : c'est un classeur Excel, pas un fichier CSV. Dans Excel, « Enregistrer "
    "sous » > « CSV (séparateur : point-virgule) (*.csv) », puis déposez le fichier .csv."
)
CALC = (
    "Fichier ignoré : c'est un classeur LibreOffice, pas un fichier CSV. Dans LibreOffice, "
    "« Enregistrer sous » > « Texte CSV (.csv) », séparateur « ; », puis déposez le fichier "
    ".csv."
)
NOT_CSV = (
    "Fichier ignoré : seuls les fichiers dont le nom finit par .csv sont lus. S'il s'agit "
    "bien d'un fichier CSV (séparateur « ; »), renommez-le en .csv et déposez-le à nouveau."
)
LINK = "Fichier ignoré : c'est un raccourci (lien), pas un fichier. Déposez le fichier lui-même."
FOLDER = (
    "Dossier ignoré : son nom finit par .csv mais c'est un dossier. Déposez le fichier CSV "
    "directement dans votre dossier, sans sous-dossier."
)
SPECIAL = (
    "Fichier ignoré : ce n'est pas un fichier ordinaire (canal ou périphérique). Déposez un "
    "fichier CSV enregistré depuis votre tableur."
)


def only_row(report: Path) -> list[str]:
    rows = report_rows(report)
    assert len(rows) == 2
    return rows[1][:3]


@pytest.mark.parametrize(
    ("name", "message"),
    [("profils.xlsx", EXCEL), ("Profils.XLS", EXCEL), ("profils.ods", CALC),
     ("profils.txt", NOT_CSV), ("profils", NOT_CSV)],
)  # fmt: skip
def test_a_workbook_or_text_file_gets_a_report_saying_why(
    box: Inbox, name: str, message: str
) -> None:
    (box.folder() / name).write_bytes(b"PK\x03\x04 not read")
    box.settle()
    [report] = box.reports()
    assert report.name == f"{Path(name).stem}.{STAMP}.rapport.csv"
    assert only_row(report) == ["0", "ERREUR", message]
    assert not (box.folder() / name).exists()
    [kept] = (box.state / "ignored" / REFERENT).iterdir()
    assert kept.name.endswith(name) and kept.read_bytes() == b"PK\x03\x04 not read"
    assert box.scalar("SELECT count(*) FROM import_run") == 0
    shown = status.render_health(status.gather(box.settings, box.sf, box.clock), ZoneInfo("UTC"))
    assert "set aside (not CSV files, state/ignored/): 1" in shown


def test_a_shortcut_and_a_folder_named_like_a_csv_are_said_too(box: Inbox, tmp_path: Path) -> None:
    target = write_csv(tmp_path / "ailleurs.csv", [account_row(1)])
    (box.folder() / "lien.csv").symlink_to(target)
    (box.folder() / "dossier.csv").mkdir()
    (box.folder() / "rangement").mkdir()  # an ordinary sub-folder stays silent
    box.settle()
    got = {r.name.split(".")[0]: only_row(r)[2] for r in box.reports()}
    assert got == {"lien": LINK, "dossier": FOLDER}
    assert target.exists()  # the link is set aside, never followed
    assert box.scalar("SELECT count(*) FROM account") == 0
    assert (box.folder() / "rangement").is_dir()


def test_a_fifo_never_blocks_the_daemon(box: Inbox) -> None:
    os.mkfifo(box.folder() / "tube.csv")
    box.drop("bon.csv", [account_row(1)])
    done = threading.Event()
    result: list[object] = []

    def burst() -> None:
        result.append(box.settle())
        done.set()

    worker = threading.Thread(target=burst, daemon=True)
    worker.start()
    assert done.wait(60), "the daemon blocked on a FIFO"
    got = {r.name.split(".")[0]: only_row(r)[2] for r in box.reports()}
    assert got["tube"] == SPECIAL
    assert box.scalar("SELECT count(*) FROM account") == 1  # the real file went through


def test_office_locks_hidden_and_temporary_names_stay_silent(box: Inbox) -> None:
    for name in ("~$profils.xlsx", ".profils.xlsx", "profils.xlsx.tmp", "profils.csv.part"):
        (box.folder() / name).write_text("x")
    box.settle()
    assert box.reports() == []
    assert not (box.state / "ignored").exists()


def test_a_workbook_still_being_copied_waits(box: Inbox) -> None:
    (box.folder() / "gros.xlsx").write_bytes(b"PK")
    box.daemon.run_once()  # first look: not stable yet
    assert box.reports() == []
    box.mono.advance(box.settings.daemon.stable_seconds)
    box.daemon.run_once()
    [report] = box.reports()
    assert only_row(report)[2] == EXCEL


def test_a_stray_in_a_stranger_folder_is_reported_to_the_operator_only(box: Inbox) -> None:
    (box.folder("AREF") / "profils.xlsx").write_bytes(b"PK")
    box.settle()
    assert not (box.outbox / "AREF").exists()
    [report] = (box.state / "strangers" / "AREF").glob("*.rapport.csv")
    assert only_row(report)[2] == EXCEL
