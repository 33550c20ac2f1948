"""Which files the inbox takes, when a file is complete, and the masked archive copy."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daemonkit import FakeMonotonic
from profilesync.fileformat.csvfile import clean_cells
from profilesync.fileformat.masking import mask_passwords, masked_cells
from profilesync.service.inbox import Dropped, StabilityTracker, is_candidate, scan


@pytest.mark.parametrize(
    ("name", "taken"),
    [
        ("profils.csv", True),
        ("PROFILS.CSV", True),
        ("Profils.Csv", True),
        ("~$profils.csv", False),  # Excel lock file
        (".profils.csv", False),  # dotfile (rsync/scp temporaries, macOS ._ files)
        (".~lock.profils.csv#", False),  # LibreOffice lock
        ("profils.csv.part", False),
        ("profils.csv.tmp", False),
        ("profils.tmp", False),
        ("profils.part", False),
        ("profils.xlsx", False),
        ("profils.txt", False),
        ("profils", False),
    ],
)
def test_candidates(name: str, taken: bool) -> None:
    assert is_candidate(name) is taken


def test_scan_sees_login_folders_and_the_root_not_deeper_nor_dot_folders(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    (inbox / "alice" / "sub").mkdir(parents=True)
    (inbox / ".hidden").mkdir()
    (inbox / "bob").mkdir()
    files = {
        inbox / "alice" / "a.csv": 100,
        inbox / "alice" / "~$a.csv": 101,
        inbox / "alice" / "sub" / "deep.csv": 102,
        inbox / ".hidden" / "h.csv": 103,
        inbox / "bob" / "b.CSV": 50,
        inbox / "root.csv": 200,
    }
    for path, mtime in files.items():
        path.write_text("x")
        os.utime(path, (mtime, mtime))
    assert scan(inbox) == [
        Dropped(inbox / "bob" / "b.CSV", "bob"),
        Dropped(inbox / "alice" / "a.csv", "alice"),
        Dropped(inbox / "root.csv", None),
    ]


def test_scan_of_a_missing_inbox_is_empty(tmp_path: Path) -> None:
    assert scan(tmp_path / "nowhere") == []


def test_a_file_is_stable_after_stable_seconds_without_change(tmp_path: Path) -> None:
    mono = FakeMonotonic()
    tracker = StabilityTracker(2.0, mono)
    f = tmp_path / "x.csv"
    f.write_bytes(b"a")
    assert not tracker.is_stable(f)  # first look
    mono.advance(1.9)
    assert not tracker.is_stable(f)
    with f.open("ab") as fh:  # a slow writer appends a chunk
        fh.write(b"b")
    mono.advance(1.0)
    assert not tracker.is_stable(f)  # changed: the wait starts again
    mono.advance(1.9)
    assert not tracker.is_stable(f)
    mono.advance(0.1)
    assert tracker.is_stable(f)
    assert tracker.pending() == 1
    tracker.forget(f)
    assert tracker.pending() == 0


def test_close_write_or_rename_marks_complete_until_it_changes_again(tmp_path: Path) -> None:
    tracker = StabilityTracker(2.0, FakeMonotonic())
    f = tmp_path / "x.csv"
    f.write_bytes(b"a")
    tracker.mark_complete(f)
    assert tracker.is_stable(f)
    with f.open("ab") as fh:
        fh.write(b"more")
    assert not tracker.is_stable(f)


def test_a_vanished_file_is_not_stable(tmp_path: Path) -> None:
    tracker = StabilityTracker(0.0, FakeMonotonic())
    assert not tracker.is_stable(tmp_path / "gone.csv")


def test_trust_mtime_takes_an_old_file_at_first_look(tmp_path: Path) -> None:
    f = tmp_path / "x.csv"
    f.write_bytes(b"a")
    fresh = StabilityTracker(2.0, FakeMonotonic(), trust_mtime=True)
    assert not fresh.is_stable(f)
    os.utime(f, (1_000_000, 1_000_000))
    old = StabilityTracker(2.0, FakeMonotonic(), trust_mtime=True)
    assert old.is_stable(f)
    assert not StabilityTracker(2.0, FakeMonotonic()).is_stable(f)


HEADER = (
    "Finess EJ;Finess ET;Nom de l'équipe;Code action;Nom;Prénom;N° RPPS;Rôle;Identifiant;"
    "Mot de passe;Email;Date de début;Date de fin"
)


def test_masking_changes_only_the_password_cells() -> None:
    body = (
        HEADER + "\r\n"
        '750712184;750100125;"Équipe ""A"";B";C;Martin;Claire;;CDC1;cm;S3cret;pw@x.mssante.fr;;\r\n'
        "\r\n"
        '750712184;750100125;;C;Dupont;Jean;;CDC1;jd;"Mot;de;passe";;01/01/2026;\r\n'
        "750712184;750100125;;S;Dupont;Jean;;CDC1;jd;;;;\r\n"
        "750712184;750100125;;C;Short;Row;;CDC1;sr\r\n"
    )
    expected = (
        HEADER + "\r\n"
        '750712184;750100125;"Équipe ""A"";B";C;Martin;Claire;;CDC1;cm;***;pw@x.mssante.fr;;\r\n'
        "\r\n"
        "750712184;750100125;;C;Dupont;Jean;;CDC1;jd;***;;01/01/2026;\r\n"
        "750712184;750100125;;S;Dupont;Jean;;CDC1;jd;;;;\r\n"
        "750712184;750100125;;C;Short;Row;;CDC1;sr\r\n"
    )
    for encoding, bom in (("utf-8", b""), ("utf-8", b"\xef\xbb\xbf"), ("cp1252", b"")):
        masked = mask_passwords(bom + body.encode(encoding))
        assert masked == bom + expected.encode(encoding)


def test_masking_a_shifted_row_keeps_only_its_public_values() -> None:
    # "Team;with;semi" unquoted: every column moved two places right, the Rôle is not in
    # its column, so everything but the codes is masked (masking.masked_cells), and the
    # Mot de passe column whatever it holds (here the Rôle).
    data = b"1;2;Team;with;semi;C;Nom;P;;CDC1;id;Pw-123456789;;;x\nx;y\n"
    assert mask_passwords(data) == b"***;***;***;***;***;C;***;***;;***;***;***;;;***\n***;***\n"


def test_masking_keeps_lf_and_a_quoted_newline() -> None:
    data = b'1;2;"two\nlines";C;N;P;;CDC1;id;pw;;;\n'
    assert mask_passwords(data) == b'1;2;"two\nlines";C;N;P;;CDC1;id;***;;;\n'


def test_binary_is_not_masked_but_refused() -> None:
    assert mask_passwords(b"PK\x03\x04\x00\x00binary") is None
    assert mask_passwords(b"\x81\x8d\x8f") is None  # neither UTF-8 nor Windows-1252


_cell = st.text(alphabet=st.sampled_from(list('ab;"\r\né€ \t=')), max_size=6) | st.sampled_from(
    ["CDC1", "750712184", "01/01/2026", "Ab-12345678-cd", "x@mssante.fr"]
)


@given(
    rows=st.lists(st.lists(_cell, min_size=10, max_size=13), min_size=1, max_size=5),
    newline=st.sampled_from(["\r\n", "\n"]),
    encoding=st.sampled_from(["utf-8", "cp1252"]),
)
def test_masking_masks_what_masked_cells_masks_and_keeps_every_other_byte(
    rows: list[list[str]], newline: str, encoding: str
) -> None:
    if newline == "\n":  # the csv module leaves a bare CR unquoted with LF line ends
        rows = [[c.replace("\r", "") for c in r] for r in rows]
    buffer = io.StringIO(newline="")
    csv.writer(buffer, delimiter=";", lineterminator=newline).writerows(rows)
    masked = mask_passwords(buffer.getvalue().encode(encoding))
    assert masked is not None
    parsed = list(csv.reader(io.StringIO(masked.decode(encoding), newline=""), delimiter=";"))
    expected = [
        [
            ("***" if out != value else raw)
            for raw, value, out in zip(r, cleaned, masked_cells(cleaned), strict=True)
        ]
        for r in rows
        if r != [""]  # csv writes a lone empty cell as an empty line
        for cleaned in [clean_cells(r)]
    ]
    assert [r for r in parsed if r] == [r for r in expected if r]
