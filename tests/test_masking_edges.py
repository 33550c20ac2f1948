"""Masking at the edges of a file: line endings, quotes never closed, headers (the archive
is the input with its password cells masked, SPEC §4: a password is never written to an
archive).

Issue 14: with an unterminated quote, a last line without a line ending, or CR-only line
endings, mutants of fileformat/masking.py left the password in clear (or raised) and no test
noticed. Every expectation below is the input with the password cell, and only it, replaced
by `***`, written out by hand.
"""

from __future__ import annotations

import pytest

from profilesync.fileformat.masking import mask_passwords

LINE = "750712184;750100125;;C;Martin;Claire;;CDC1;cm;{pw};;;"
MASKED = "750712184;750100125;;C;Martin;Claire;;CDC1;cm;***;;;"


@pytest.mark.parametrize("ending", ["\r\n", "\n", "\r", ""])
def test_the_last_line_is_masked_whatever_ends_it(ending: str) -> None:
    data = (LINE.format(pw="Secret-Pass-1") + ending).encode()
    assert mask_passwords(data) == (MASKED + ending).encode()


def test_a_last_line_without_line_ending_ending_on_the_password_is_masked() -> None:
    data = b"750712184;750100125;;C;Martin;Claire;;CDC1;cm;Secret-Pass-1"
    assert mask_passwords(data) == b"750712184;750100125;;C;Martin;Claire;;CDC1;cm;***"


def test_cr_only_line_endings_mask_every_row() -> None:
    """A file saved with classic-Mac line endings: each CR ends a row."""
    text = "\r".join(LINE.format(pw=f"Secret-Pass-{n}") for n in range(3)) + "\r"
    assert mask_passwords(text.encode()) == ("\r".join([MASKED] * 3) + "\r").encode()


def test_mixed_line_endings_mask_every_row() -> None:
    rows = [LINE.format(pw=f"Secret-Pass-{n}") for n in range(4)]
    data = (rows[0] + "\r\n" + rows[1] + "\n" + rows[2] + "\r" + rows[3]).encode()
    assert (
        mask_passwords(data) == (MASKED + "\r\n" + MASKED + "\n" + MASKED + "\r" + MASKED).encode()
    )


def test_blank_lines_between_rows_are_kept_and_rows_after_them_masked() -> None:
    data = (
        LINE.format(pw="Pass-A-1") + "\r\n\r\n\n" + LINE.format(pw="Pass-B-2") + "\r\n"
    ).encode()
    assert mask_passwords(data) == (MASKED + "\r\n\r\n\n" + MASKED + "\r\n").encode()


@pytest.mark.parametrize(
    "data",
    [
        # Opened in the Nom: the password is somewhere inside one cell that runs to the end.
        b'750712184;750100125;;C;"Martin;Claire;;CDC1;cm;Secret-Pass-1;;;\r\n',
        b'750712184;750100125;;C;Martin;Claire;;CDC1;cm;"Secret;Pass\r\nmore;lines\r\n',
        b'750712184;750100125;;C;Martin;Claire;;CDC1;cm;Secret-Pass-1;"x@mssante.fr;;\r\n',
        LINE.format(pw="Pass-A-1").encode() + b'\r\n"750712184;750100125;;C;X;Y;;CDC1;x;Pass-B-2\n',
    ],
)
def test_a_quote_never_closed_keeps_no_readable_copy(data: bytes) -> None:
    """The reader rejects such a file whole (« Guillemet non refermé »); where its password
    cells are cannot be told, so no masked copy is kept at all (the private copy stays)."""
    assert mask_passwords(data) is None


def test_a_quoted_password_with_doubled_quotes_and_text_after_the_quote_is_masked() -> None:
    data = b'750712184;750100125;;C;Martin;Claire;;CDC1;cm;"Se""cr;et"-1;;;\n'
    assert mask_passwords(data) == (MASKED + "\n").encode()


def test_a_quoted_empty_password_is_left_as_it_is() -> None:
    data = b'750712184;750100125;;S;Martin;Claire;;CDC1;cm;"";;;\n'
    assert mask_passwords(data) == data


def test_a_blank_password_cell_is_left_as_it_is() -> None:
    data = b"750712184;750100125;;S;Martin;Claire;;CDC1;cm;  ;;;\n"
    assert mask_passwords(data) == data


def test_the_password_of_a_row_after_a_quoted_multiline_cell_is_masked() -> None:
    data = (
        '750712184;750100125;"Équipe\r\nde nuit";C;Martin;Claire;;CDC1;cm;Pass-A-1;;;\r\n'
        + LINE.format(pw="Pass-B-2")
        + "\r\n"
    ).encode()
    assert (
        mask_passwords(data)
        == (
            '750712184;750100125;"Équipe\r\nde nuit";C;Martin;Claire;;CDC1;cm;***;;;\r\n'
            + MASKED
            + "\r\n"
        ).encode()
    )


def test_a_header_row_is_kept_and_the_rows_under_it_masked() -> None:
    header = (
        "Finess EJ;Finess ET;Nom de l'équipe;Code action;Nom;Prénom;N° RPPS;Rôle;"
        "Identifiant;Mot de passe;Email;Date de début;Date de fin"
    )
    data = (header + "\r\n" + LINE.format(pw="Pass-A-1") + "\r\n").encode("cp1252")
    assert mask_passwords(data) == (header + "\r\n" + MASKED + "\r\n").encode("cp1252")


def test_a_header_row_is_recognised_without_case_accents_or_spaces() -> None:
    header = (
        "FINESS EJ;finess et;nom de l equipe;code action;NOM;prenom;n rpps;role;"
        "identifiant;motdepasse;email;date de debut;date de fin"
    )
    data = (header + "\n").encode()
    assert mask_passwords(data) == data


def test_a_row_that_only_looks_like_a_header_in_part_is_masked() -> None:
    data = b"Finess EJ;Finess ET;;C;Martin;Claire;;CDC1;cm;Mot de passe;;;\n"
    assert mask_passwords(data) == b"Finess EJ;Finess ET;;C;Martin;Claire;;CDC1;cm;***;;;\n"


def test_a_quoted_password_ending_the_file_is_masked() -> None:
    data = b'750712184;750100125;;C;Martin;Claire;;CDC1;cm;"Secret-Pass-1"'
    assert mask_passwords(data) == b"750712184;750100125;;C;Martin;Claire;;CDC1;cm;***"


def test_a_doubled_quote_ending_the_file_leaves_the_cell_open() -> None:
    """`""` inside quotes is one `"`: `"Secret""` at the end of the file is never closed."""
    data = b'750712184;750100125;;C;Martin;Claire;;CDC1;cm;"Secret""'
    assert mask_passwords(data) is None


def test_a_header_with_a_doubled_quote_in_a_cell_is_still_the_header() -> None:
    """Header cells match ignoring case, accents, spaces and punctuation (SPEC §2)."""
    header = (
        'Finess EJ;Finess ET;"Nom de l""équipe";Code action;Nom;Prénom;N° RPPS;Rôle;'
        "Identifiant;Mot de passe;Email;Date de début;Date de fin\n"
    )
    assert mask_passwords(header.encode()) == header.encode()


def test_cr_only_rows_whose_first_cell_is_empty_are_masked_in_the_right_column() -> None:
    data = (LINE.format(pw="Pass-A-1") + "\r;" + LINE.format(pw="Pass-B-2")[10:] + "\r").encode()
    assert mask_passwords(data) == (MASKED + "\r;" + MASKED[10:] + "\r").encode()
