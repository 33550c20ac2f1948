"""Issue 10, the référent's own folders: the template, nightly and on-demand exports.

Everything through the daemon's burst mode: a file dropped in `inbox/aref/`, the outbox read.
"""

from __future__ import annotations

import errno
import logging
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from daemonkit import EJ1, ET1, REFERENT, T0, Inbox, account_row, report_rows, row
from importkit import ET3
from profilesync import layout
from profilesync.service import jobs, selfservice
from profilesync.store.model import Establishment

HEADER = (
    "Finess EJ;Finess ET;Nom de l'équipe;Code action;Nom;Prénom;N° RPPS;Rôle;Identifiant;"
    "Mot de passe;Email;Date de début;Date de fin"
)
DAY = "20260315"  # T0 in Paris


def _exports(box: Inbox) -> Path:
    return box.outbox / REFERENT / "exports"


def _lines(path: Path) -> list[str]:
    return path.read_bytes().decode("utf-8-sig").split("\r\n")[:-1]


def _people(box: Inbox) -> None:
    box.drop("creation.csv", [account_row(1), account_row(2, debut="20/03/2026")])
    box.settle()


def _ask(box: Inbox, name: str, content: bytes = b"") -> None:
    (box.folder() / name).write_bytes(content)
    box.settle()


def test_the_template_is_in_the_outbox_and_put_back_when_deleted(box: Inbox) -> None:
    box.daemon.run_once()
    template = box.outbox / REFERENT / "modele.csv"
    assert template.read_bytes() == ("\ufeff" + HEADER + "\r\n").encode()
    template.unlink()
    box.daemon.run_once()  # within the minute: not looked at again
    assert not template.exists()
    box.mono.advance(60)
    box.daemon.run_once()
    assert template.read_bytes() == ("\ufeff" + HEADER + "\r\n").encode()


def test_an_export_asked_from_the_inbox_is_answered_in_the_same_pass(box: Inbox) -> None:
    _people(box)
    _ask(box, f"EXPORT-{ET1}.txt")
    export = _exports(box) / f"profils-{ET1}-{DAY}.csv"
    assert _lines(export) == [
        HEADER,
        f"{EJ1};{ET1};;M;Nomb;Prenomb;;CDC1;user1;;;;",
        f"{EJ1};{ET1};;M;Nomc;Prenomc;;CDC1;user2;;;20/03/2026;",
    ]
    states = _exports(box) / f"etats-profils-{ET1}-{DAY}.csv"
    assert _lines(states) == [
        HEADER + ";État du profil",
        f"{EJ1};{ET1};;M;Nomb;Prenomb;;CDC1;user1;;;;;actif",
        f"{EJ1};{ET1};;M;Nomc;Prenomc;;CDC1;user2;;;20/03/2026;;à venir",
    ]
    assert not list((box.inbox / REFERENT).iterdir())  # the request was taken
    [report] = box.reports()  # an export answered is no report
    assert report.name.startswith("creation.")

    # The export is re-importable as is: every line OK, nothing changed.
    (box.folder() / "retour.csv").write_bytes(export.read_bytes())
    box.settle()
    [*_, back] = box.runs()
    assert (back.status, back.total, back.ok) == ("done", 2, 2)


def test_export_alone_gives_every_establishment_of_the_referent_and_ignores_content(
    box: Inbox,
) -> None:
    _people(box)
    _ask(box, "export.csv", b"Finess EJ;...\r\n")
    assert (_exports(box) / f"profils-{ET1}-{DAY}.csv").is_file()
    [report] = [p for p in box.reports() if p.name.startswith("export.")]
    assert report_rows(report)[1][:3] == [
        "0",
        "ERREUR",
        "Ce fichier porte le nom d'une demande d'export : il a été traité comme tel et son "
        "contenu n'a pas été lu. Pour importer des lignes, donnez au fichier un autre nom "
        "(par exemple profils.csv) et déposez-le à nouveau.",
    ]
    assert box.runs()[-1].file_name == "creation.csv"  # not read as an import


def test_an_export_of_another_establishment_is_refused_and_nothing_of_it_written(
    box: Inbox,
) -> None:
    with box.sf() as s:
        s.add(Establishment(et=ET3, ej=ET3, name="Autre", created_at=T0))
        s.commit()
    box.drop("autre.csv", [row("C", "X", "Y", ej=ET3, et=ET3, ident="x1", password="Aa-1" * 4)])
    box.settle()
    for name, et in ((f"export-{ET3}", ET3), ("export-999999999.csv", "999999999")):
        _ask(box, name)
        [report] = [p for p in box.reports() if p.name.startswith(f"export-{et}.")]
        assert report_rows(report)[1][:3] == [
            "0",
            "ERREUR",
            f"Demande d'export refusée : vous n'êtes pas référent de l'établissement « {et} ». "
            "Aucun export n'a été fait. Vérifiez le n° Finess ET dans le nom du fichier "
            "(export-<Finess ET>), ou déposez un fichier nommé simplement « export » pour "
            "recevoir les exports de tous vos établissements.",
        ]
    assert not _exports(box).exists()
    assert not (box.outbox / "exports").exists()


def test_an_export_request_in_a_folder_that_is_no_referent_is_refused(box: Inbox) -> None:
    (box.folder("inconnu") / "export").write_bytes(b"")
    box.settle()
    [report] = (box.state / "strangers" / "inconnu").glob("export.*.rapport.csv")
    assert "ce dossier n'est pas celui d'un référent" in report_rows(report)[1][2]
    assert not (box.outbox / "inconnu").exists()


def test_the_nightly_export_lands_in_each_referents_folder(box: Inbox) -> None:
    _people(box)
    ctx = jobs.JobContext(box.settings, box.sf, box.clock, "test:1")
    assert jobs.run_job("export", ctx) == "1 establishments exported"
    names = sorted(p.name for p in _exports(box).iterdir())
    assert names == [f"etats-profils-{ET1}-{DAY}.csv", f"profils-{ET1}-{DAY}.csv"]
    spec = box.outbox / "exports" / ET1 / f"profils-{ET1}-{DAY}.csv"
    assert (_exports(box) / spec.name).read_bytes() == spec.read_bytes()


def test_retention_prunes_reports_and_exports_but_never_the_template(
    db_url: str, tmp_path: Path
) -> None:
    box = Inbox(db_url, tmp_path, retention={"outbox_days": 10})
    _people(box)
    _ask(box, "export")
    mine = box.outbox / REFERENT / "mes-notes.csv"  # a référent's own file, no date: kept
    mine.write_bytes(b"x")
    # Report names in local time (issue 10.6) are dated too: 15/03 09:00 in Paris.
    local = box.outbox / REFERENT / "ancien.2026-03-15_09h00.rapport.csv"
    local.write_bytes(b"x")
    odd = box.outbox / REFERENT / "x.2026-13-45_99h99.rapport.csv"  # no date: kept
    odd.write_bytes(b"x")
    ctx = jobs.JobContext(box.settings, box.sf, box.clock, "test:1")
    box.clock.advance(timedelta(days=9))
    assert "0 outbox files" in jobs.run_job("prune", ctx)
    box.clock.advance(timedelta(days=2))
    # The reports of creation.csv and ancien.csv, the export and its file of states.
    assert "4 outbox files" in jobs.run_job("prune", ctx)
    assert box.reports() == [odd]
    assert list(_exports(box).iterdir()) == []
    assert sorted(p.name for p in (box.outbox / REFERENT).iterdir()) == [
        "exports",
        "mes-notes.csv",
        "modele.csv",
        odd.name,
    ]
    box.close()


def test_a_referent_keeps_the_latest_export_of_each_establishment(box: Inbox) -> None:
    _people(box)
    _ask(box, "export")
    box.clock.advance(timedelta(days=1))
    _ask(box, "Export.TXT")
    assert sorted(p.name for p in _exports(box).iterdir()) == [
        f"etats-profils-{ET1}-20260316.csv",
        f"profils-{ET1}-20260316.csv",
    ]


@given(st.text(max_size=40))
def test_only_names_saying_export_are_export_requests(name: str) -> None:
    found = layout.export_request(name)
    if not name.lower().startswith("export"):
        assert found is None
    if found is not None:
        assert "." not in found and found == found.strip()


@given(st.from_regex(r"[0-9AB]{1,12}", fullmatch=True), st.sampled_from(["", ".csv", ".TXT"]))
def test_an_export_request_names_its_establishment(et: str, extension: str) -> None:
    assert layout.export_request(f"EXPORT-{et}{extension}") == et
    assert layout.export_request(f"export{extension}") == ""
    assert layout.export_request(f"export-{et}.xlsx") is None
    assert layout.export_request(f"profils-{et}.csv") is None


def test_a_template_that_cannot_be_written_is_said_once_and_files_go_on(
    box: Inbox, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def full(_path: Path, _data: bytes) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(selfservice, "_write_atomically", full)
    box.drop("creation.csv", [account_row(1)])
    with caplog.at_level(logging.DEBUG, logger="profilesync.service.selfservice"):
        box.settle()
        box.mono.advance(60)  # the templates are looked at once a minute
        box.settle()
    said = [r for r in caplog.records if "cannot write the template" in r.getMessage()]
    assert [r.levelno for r in said][:2] == [logging.WARNING, logging.DEBUG]
    assert [r.status for r in box.runs()] == ["done"]


def test_an_export_request_waits_while_the_database_is_down(
    box: Inbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    _people(box)

    def down(*_args: object, **_kwargs: object) -> None:
        raise sa.exc.OperationalError("SELECT", {}, Exception("server closed the connection"))

    with monkeypatch.context() as patch:
        patch.setattr(selfservice, "managed", down)
        _ask(box, "export")
        assert (box.inbox / REFERENT / "export").exists()  # kept, not set aside unanswered
        assert not _exports(box).exists()
    box.settle()
    assert not (box.inbox / REFERENT / "export").exists()
    assert (_exports(box) / f"profils-{ET1}-{DAY}.csv").is_file()


def test_what_was_set_aside_is_pruned_with_the_archives_folders_too(box: Inbox) -> None:
    (box.folder() / "dossier.csv").mkdir()
    (box.folder() / "dossier.csv" / "dedans.txt").write_bytes(b"x")
    _ask(box, "export")
    ignored = box.state / "ignored" / REFERENT
    assert len(list(ignored.iterdir())) == 2  # the folder and the request
    ctx = jobs.JobContext(box.settings, box.sf, box.clock, "test:1")
    box.clock.advance(timedelta(days=box.settings.daemon.archive_days + 1))
    assert "2 archives" in jobs.run_job("prune", ctx)
    assert list(ignored.iterdir()) == []
