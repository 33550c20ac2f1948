"""The report of SPEC §7: exact bytes, masking, injection guard, atomic replacement."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from profilesync.fileformat.columns import COLUMNS, NCOLS, PASSWORD
from profilesync.fileformat.outcome import Code, Outcome
from profilesync.fileformat.report import (
    HEADER,
    NotAReport,
    ReportError,
    ReportWriter,
    default_report_path,
    neutralised,
    read_report,
    report_cells,
    unneutralised,
)
from speckit import guarded

HEADER_BYTES = ("\ufeffLigne;Code;Message;" + ";".join(COLUMNS) + "\r\n").encode("utf-8")
CELLS = (
    "750712184",
    "750100125",
    "Urgences adultes",
    "C",
    "Dupont",
    "Jean",
    "10000000017",
    "CDC3E",
    "",
    "***",
    "jean.dupont@aphp.mssante.fr",
    "01/01/2026",
    "",
)


def write_report(path: Path, *outcomes: Outcome) -> bytes:
    with ReportWriter(path) as writer:
        for outcome in outcomes:
            writer.write(outcome)
    return path.read_bytes()


def test_header_is_bom_ligne_code_message_and_the_13_columns_crlf(tmp_path: Path) -> None:
    data = write_report(tmp_path / "r.csv")
    assert data == HEADER_BYTES
    assert ("Ligne", "Code", "Message", *COLUMNS) == HEADER


def test_one_row_per_outcome_with_messages_joined(tmp_path: Path) -> None:
    data = write_report(
        tmp_path / "r.csv",
        Outcome(2, Code.OK, (), CELLS),
        Outcome(3, Code.ALERTE, ("premier problème", "second problème"), CELLS),
    )
    body = data[len(HEADER_BYTES) :].decode("utf-8")
    assert body == (
        "2;OK;;" + ";".join(CELLS) + "\r\n"
        "3;ALERTE;premier problème | second problème;" + ";".join(CELLS) + "\r\n"
    )


def test_password_is_masked_even_when_the_caller_forgot(tmp_path: Path) -> None:
    cells = list(CELLS)
    cells[PASSWORD] = "Tr3s-Secret-Pass!"
    data = write_report(tmp_path / "r.csv", Outcome(2, Code.OK, (), tuple(cells)))
    assert b"Tr3s-Secret-Pass!" not in data
    assert read_report(tmp_path / "r.csv")[0].cells[PASSWORD] == "***"


def test_empty_password_stays_empty(tmp_path: Path) -> None:
    cells = list(CELLS)
    cells[PASSWORD] = ""
    write_report(tmp_path / "r.csv", Outcome(2, Code.OK, (), tuple(cells)))
    assert read_report(tmp_path / "r.csv")[0].cells[PASSWORD] == ""


def test_a_shifted_row_shows_only_its_public_values() -> None:
    # "Réanimation; médicale" unquoted: every value moved one column to the right, and the
    # password landed in the Email column. The Rôle is not in its column, so every cell
    # but the FINESS, codes and dates is masked (masking.masked_cells).
    shifted = (
        "750712184",
        "750100125",
        "Réanimation",
        "médicale",
        "C",
        "Martin",
        "Paul",
        "",
        "CDC2",
        "pmartin",
        "Paul-Martin-Pass-7",
        "",
        "",
        "",
    )
    assert report_cells(shifted) == (
        "750712184",
        "750100125",
        "***",
        "***",
        "C",
        "***",
        "***",
        "",
        "CDC2",
        "***",
        "***",
        "",
        "",
    )
    # Thirteen aligned cells: the password column only.
    assert report_cells((*CELLS[:PASSWORD], "secret", *CELLS[PASSWORD + 1 :])) == CELLS
    # Fewer than thirteen, aligned: padded, the password masked.
    short = ("750712184", "750100125", "", "M", "Roux", "Léa", "", "OEC1", "lroux", "Pw")
    assert report_cells(short) == (*short[:PASSWORD], "***", "", "", "")
    # Fewer than thirteen, no Rôle: nothing but public values.
    assert report_cells(("a", "750712184")) == ("***", "750712184", *[""] * (NCOLS - 2))


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_injection_guard_on_cells_and_messages(tmp_path: Path, start: str) -> None:
    cells = list(CELLS)
    cells[4] = f'{start}HYPERLINK("http://x")'
    write_report(tmp_path / "r.csv", Outcome(2, Code.ERREUR, (f"{start}1+1",), tuple(cells)))
    (row,) = read_report(tmp_path / "r.csv")
    assert row.messages == (f"'{start}1+1",)
    assert row.cells[4] == f'\'{start}HYPERLINK("http://x")'


@pytest.mark.parametrize(
    ("cell", "cell_in_report"),
    [("=1+1", "'=1+1"), ("+33612345678", "'+33612345678"), ("-Martin", "'-Martin"),
     ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("\rx", "'\rx"), ("a=b", "a=b"),
     (" =x", " =x"), ("\nx", "\nx"), ("'=x", "'=x"), ("", "")],
)  # fmt: skip
def test_cells_of_the_report_are_guarded_as_spec_7_says(cell: str, cell_in_report: str) -> None:
    """SPEC §7, literally: `=`, `+`, `-`, `@`, tab, CR at the start get a `'`; nothing else."""
    assert neutralised(cell) == cell_in_report
    assert guarded(cell) == cell_in_report  # the oracle the property tests use


def test_neutralised_leaves_harmless_cells_alone() -> None:
    assert neutralised("") == ""
    assert neutralised("Dupont") == "Dupont"
    assert neutralised("a=b") == "a=b"
    assert neutralised("'=x") == "'=x"
    assert neutralised("-") == "'-"


@pytest.mark.parametrize(
    ("cell", "typed"),
    [("'-Martin", "-Martin"), ("'=1", "=1"), ("'\tx", "\tx"), ("'Dupont", "'Dupont"),
     ("'", "'"), ("-", "-"), ("", "")],
)  # fmt: skip
def test_unneutralised_drops_only_the_guard(cell: str, typed: str) -> None:
    assert unneutralised(cell) == typed
    assert unneutralised(neutralised(typed)) == typed


def test_quoting_is_rfc4180(tmp_path: Path) -> None:
    cells = list(CELLS)
    cells[2] = 'Réa; "nuit"'
    cells[4] = "deux\nlignes"
    data = write_report(tmp_path / "r.csv", Outcome(7, Code.OK, (), tuple(cells)))
    body = data[len(HEADER_BYTES) :].decode("utf-8")
    assert body.startswith('7;OK;;750712184;750100125;"Réa; ""nuit""";C;"deux\nlignes";Jean;')
    assert read_report(tmp_path / "r.csv")[0].cells[2] == 'Réa; "nuit"'


def test_reject_writes_the_single_ligne_0_row(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    with ReportWriter(path) as writer:
        writer.reject("Le fichier dépasse 50 Mio.")
    assert path.read_bytes() == HEADER_BYTES + (
        "0;ERREUR;Le fichier dépasse 50 Mio." + ";" * NCOLS + "\r\n"
    ).encode("utf-8")
    assert writer.summary.total == 0
    assert writer.rejected_reason == "Le fichier dépasse 50 Mio."


def test_reject_after_rows_discards_them(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    with ReportWriter(path) as writer:
        for n in range(2, 500):
            writer.write(Outcome(n, Code.OK, (), CELLS))
        writer.reject("Trop de lignes.")
        with pytest.raises(ReportError):
            writer.write(Outcome(501, Code.OK, (), CELLS))
    rows = read_report(path)
    assert [(r.line, r.code, r.messages) for r in rows] == [(0, Code.ERREUR, ("Trop de lignes.",))]
    assert rows[0].cells == ("",) * NCOLS


def test_summary_counts_what_was_written(tmp_path: Path) -> None:
    with ReportWriter(tmp_path / "r.csv") as writer:
        writer.write_all(
            Outcome(n, code, (), CELLS)
            for n, code in enumerate([Code.OK, Code.ERREUR, Code.OK, Code.ALERTE], start=2)
        )
    assert writer.summary.line() == "4 lignes : 2 OK, 1 ALERTE, 1 ERREUR"


def test_nothing_under_the_final_name_until_the_with_ends(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    with ReportWriter(path) as writer:
        writer.write(Outcome(2, Code.OK, (), CELLS))
        assert not path.exists()
        (tmp,) = tmp_path.iterdir()
        assert tmp.name.startswith(".r.csv.tmp-")
    assert [p.name for p in tmp_path.iterdir()] == ["r.csv"]


def test_exception_inside_with_removes_temp_and_keeps_previous_report(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_bytes(b"previous")
    with pytest.raises(RuntimeError, match="boom"), ReportWriter(path) as writer:
        writer.write(Outcome(2, Code.OK, (), CELLS))
        raise RuntimeError("boom")
    assert path.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["r.csv"]


def test_a_crash_never_leaves_a_partial_report_under_the_final_name(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import os
        from pathlib import Path
        from profilesync.fileformat.outcome import Code, Outcome
        from profilesync.fileformat.report import ReportWriter
        with ReportWriter(Path({str(tmp_path / "r.csv")!r})) as w:
            for n in range(2, 20000):
                w.write(Outcome(n, Code.OK, (), ("x",) * 13))
            os._exit(9)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], check=False)
    assert proc.returncode == 9
    assert not (tmp_path / "r.csv").exists()
    (leftover,) = tmp_path.iterdir()
    assert leftover.name.startswith(".r.csv.tmp-")


def test_report_permissions_follow_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        write_report(tmp_path / "r.csv")
    finally:
        os.umask(old)
    assert (tmp_path / "r.csv").stat().st_mode & 0o777 == 0o640


def test_unwritable_directory_raises_and_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError), ReportWriter(tmp_path / "missing" / "r.csv"):
        pass
    assert list(tmp_path.iterdir()) == []


def test_writer_outside_with_is_refused(tmp_path: Path) -> None:
    writer = ReportWriter(tmp_path / "r.csv")
    with pytest.raises(ReportError):
        writer.write(Outcome(2, Code.OK, (), CELLS))
    with pytest.raises(ReportError):
        writer.reject("x")


def test_unencodable_text_is_replaced_not_a_crash(tmp_path: Path) -> None:
    cells = ("\udce9", *CELLS[1:])
    write_report(tmp_path / "r.csv", Outcome(2, Code.OK, (), cells))
    assert read_report(tmp_path / "r.csv")[0].cells[0] == "?"


def test_read_report_refuses_a_file_that_is_not_a_report(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("a;b\r\n", encoding="utf-8")
    with pytest.raises(NotAReport):
        read_report(path)


def test_default_report_path_is_beside_the_input() -> None:
    assert default_report_path(Path("/a/b/fichier.CSV")) == Path("/a/b/fichier.rapport.csv")


_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)


@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(list(Code)),
            st.lists(_text.filter(lambda m: " | " not in m and m), max_size=3),
            st.lists(_text, min_size=NCOLS, max_size=NCOLS),
        ),
        max_size=20,
    )
)
def test_round_trip_of_any_text(rows: list[tuple[Code, list[str], list[str]]]) -> None:
    import tempfile

    outcomes = [
        Outcome(n, code, tuple(messages), tuple(cells))
        for n, (code, messages, cells) in enumerate(rows, start=1)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "r.csv"
        write_report(path, *outcomes)
        back = read_report(path)
    assert [(o.line, o.code) for o in back] == [(o.line, o.code) for o in outcomes]
    for got, sent in zip(back, outcomes, strict=True):
        # The messages form one cell: the guard applies to the cell, i.e. its first message.
        assert " | ".join(got.messages) == guarded(" | ".join(sent.messages))
        assert got.cells == tuple(guarded(c) for c in report_cells(sent.cells))
