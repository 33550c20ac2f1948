"""csvfile: bytes → numbered, trimmed rows; every whole-file rejection, with its exact text."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import pytest

from profilesync.config import LimitsSettings
from profilesync.fileformat import csvfile
from profilesync.fileformat.columns import COLUMNS
from profilesync.fileformat.csvfile import FileRejected, Row, read_rows, rows_from_bytes
from profilesync.fileformat.csvscan import CHUNK, Scan, scan

SAMPLES = Path(__file__).parent / "data" / "samples"
LIMITS = LimitsSettings()
HEADER = ";".join(COLUMNS)
PAD = ("",) * 13


def rows(data: bytes, limits: LimitsSettings = LIMITS) -> list[tuple[int, tuple[str, ...]]]:
    return [(r.number, r.cells) for r in rows_from_bytes(data, limits)]


def cells(*values: str) -> tuple[str, ...]:
    """`values` padded with empty cells to 13."""
    return values + ("",) * (13 - len(values))


def rejection(data: bytes, limits: LimitsSettings = LIMITS) -> str:
    with pytest.raises(FileRejected) as info:
        list(rows_from_bytes(data, limits))
    assert str(info.value) == info.value.reason
    return info.value.reason


RESAVE = "enregistrez-le au format CSV (séparateur : point-virgule)"
SEPARATOR_HELP = (
    "Dans Excel, faites « Enregistrer sous » puis choisissez le type « CSV (séparateur : "
    "point-virgule) » ; dans LibreOffice, faites « Enregistrer sous », choisissez le type "
    "« Texte CSV », cochez « Éditer les paramètres du filtre » puis choisissez « ; » comme "
    "séparateur de champ."
)


# --- The four sample files, as spreadsheets write them ---------------------------------------


def test_excel_windows1252_sample() -> None:
    got = [(r.number, r.cells) for r in read_rows(SAMPLES / "excel-fr-windows1252.csv", LIMITS)]
    assert got == [
        (
            2,
            (
                "750712184",
                "750100125",
                "Urgences adultes",
                "C",
                "Dupont",
                "Jean",
                "10000000017",
                "CDC3E",
                "",
                "Tr3s-Secret-Pass!",
                "jean.dupont@aphp.mssante.fr",
                "01/01/2026",
                "",
            ),
        ),
        (
            3,
            (
                "750712184",
                "750100125",
                "",
                "C",
                "Lefèvre",
                "Anaïs",
                "10000000025",
                "CDC3D",
                "",
                "Autre#Passe2026",
                "anais.lefevre@mssante.fr",
                "",
                "31/12/2027",
            ),
        ),
        (
            4,
            cells(
                "750712184",
                "750100125",
                "Urgences adultes",
                "C",
                "Garçon",
                "Cécile",
                "",
                "CDC4",
                "cgarcon",
                "Un-Mot2Passe-Long",
            ),
        ),
        (
            5,
            cells(
                "750712184",
                "750100125",
                "",
                "C",
                "Œuvre",
                "François",
                "",
                "CDC1",
                "foeuvre",
                "Encore-1-Mot-Long",
                "francois.oeuvre@gmail.com",
            ),
        ),
        (
            6,
            (
                "750712184",
                "750100125",
                "",
                "M",
                "Dupont",
                "Jean",
                "10000000017",
                "CDC3E",
                "",
                "",
                "jean.dupont@aphp.mssante.fr",
                "",
                "30/06/2027",
            ),
        ),
        (
            7,
            cells(
                "750712184",
                "750100125",
                "Urgences adultes",
                "S",
                "Garçon",
                "Cécile",
                "",
                "CDC4",
                "cgarcon",
            ),
        ),
    ]


def test_libreoffice_utf8_sample_quoted_semicolon_and_shifted_line() -> None:
    got = [(r.number, r.cells) for r in read_rows(SAMPLES / "libreoffice-utf8.csv", LIMITS)]
    assert got == [
        (
            1,
            (
                "750712184",
                "750100125",
                "Réanimation; médicale",
                "C",
                "N'Diaye",
                "Aminata",
                "10000000033",
                "CDC3A",
                "",
                "Cle-Tres-Longue-9",
                "a.ndiaye@aphp.mssante.fr",
                "15/02/2026",
                "",
            ),
        ),
        (
            2,
            (
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
            ),
        ),
    ]


def test_spreadsheet_damage_sample_keeps_values_and_pads_dropped_cells() -> None:
    got = [(r.number, r.cells) for r in read_rows(SAMPLES / "spreadsheet-damage.csv", LIMITS)]
    assert got == [
        (
            2,
            cells(
                "10780062",
                "10780062",
                "",
                "C",
                "Bernard",
                "Luc",
                "1,00000E+10",
                "CDC3D",
                "",
                "Luc-Bernard-Pass1",
            ),
        ),
        (
            3,
            cells(
                "10780062",
                "10780062",
                "",
                "C",
                "Petit",
                "Emma",
                "",
                "CDC1",
                "epetit",
                "Emma-Petit-Pass-2",
                "",
                "2026-03-01",
            ),
        ),
        (
            4,
            cells(
                "10780062",
                "10780062",
                "",
                "C",
                "Moreau",
                "Hugo",
                "",
                "SYNT",
                "hmoreau",
                "Hugo-Moreau-Pass-3",
                "",
                "45292",
            ),
        ),
        (
            5,
            cells(
                "010780062",
                "010780062",
                "",
                "C",
                "Roux",
                "Léa",
                "",
                "OEC1",
                "lroux",
                "Lea-Roux-Pass-44",
            ),
        ),
    ]


def test_template_sample_yields_nothing() -> None:
    assert list(read_rows(SAMPLES / "modele.csv", LIMITS)) == []


@pytest.mark.parametrize("sample", sorted(SAMPLES.glob("*.csv")), ids=lambda p: p.name)
def test_read_rows_and_rows_from_bytes_agree(sample: Path) -> None:
    assert list(read_rows(sample, LIMITS)) == list(rows_from_bytes(sample.read_bytes(), LIMITS))


def test_rows_are_frozen_values() -> None:
    (row,) = rows_from_bytes(b"\n\na;b\n", LIMITS)
    assert row == Row(3, cells("a", "b"))
    assert hash(row) == hash(Row(3, cells("a", "b")))
    assert repr(row).startswith("Row(number=3, cells=('a', 'b', ''")
    with pytest.raises(AttributeError):
        row.number = 4  # type: ignore[misc]


def test_read_rows_is_lazy_and_leaves_os_errors_to_the_caller(tmp_path: Path) -> None:
    it = read_rows(tmp_path / "absent.csv", LIMITS)
    with pytest.raises(FileNotFoundError):
        next(it)


# --- Encoding --------------------------------------------------------------------------------


def test_utf8_with_bom_without_bom_and_windows1252_read_alike() -> None:
    text = "a;Léa Œuvre;ç\r\n"
    expected = [(1, cells("a", "Léa Œuvre", "ç"))]
    assert rows(b"\xef\xbb\xbf" + text.encode("utf-8")) == expected
    assert rows(text.encode("utf-8")) == expected
    assert rows(text.encode("cp1252")) == expected


def test_a_file_that_decodes_as_utf8_is_utf8() -> None:
    # C3 A9 is "Ã©" in Windows-1252 but "é" in UTF-8: UTF-8 wins.
    assert rows(b"a;\xc3\xa9\n") == [(1, cells("a", "é"))]


def test_bom_is_removed_before_a_quoted_first_cell() -> None:
    assert rows(b'\xef\xbb\xbf"x;y";b\n') == [(1, cells("x;y", "b"))]


@pytest.mark.parametrize("byte", [0x81, 0x8D, 0x8F, 0x90, 0x9D])
def test_bytes_undefined_in_windows1252_are_undecodable(byte: int) -> None:
    data = b"a;b\r\n\r\nc;\xe9\r\nd;" + bytes([byte]) + b"\r\n"
    assert rejection(data) == (
        "Fichier illisible : la ligne 4 contient un caractère que votre tableur n'a pas pu "
        f"enregistrer correctement. Ouvrez le fichier dans votre tableur et {RESAVE}."
    )


def test_bom_then_invalid_utf8_is_rejected_not_read_as_windows1252() -> None:
    data = b"\xef\xbb\xbfa;b\nc;d\ne;Lef\xe8vre\n"
    assert rejection(data) == (
        "Fichier illisible : la ligne 3 contient des caractères enregistrés autrement que le "
        "reste du fichier (un copier-coller depuis un autre fichier ?). Ouvrez le fichier "
        f"dans votre tableur et {RESAVE}."
    )


def test_utf8_cut_at_the_end_is_windows1252() -> None:
    # A lone lead byte at the very end is not UTF-8; in Windows-1252 it is "Ã".
    assert rows(b"a;b\xc3") == [(1, cells("a", "bÃ"))]


# --- Line endings and line numbers -----------------------------------------------------------


@pytest.mark.parametrize("eol", [b"\r\n", b"\n", b"\r"], ids=["crlf", "lf", "cr"])
def test_line_numbers_are_physical_with_any_line_ending(eol: bytes) -> None:
    lines = [b"a;1", b"", b"b;2", b'c;"multi', b"line", b'cell";3', b"  ;  ", b"d;4"]
    data = eol.join(lines) + eol
    nl = eol.decode()
    assert rows(data) == [
        (1, cells("a", "1")),
        (3, cells("b", "2")),
        (4, cells("c", f"multi{nl}line{nl}cell", "3")),
        (8, cells("d", "4")),
    ]
    assert rows(b"\xef\xbb\xbf" + data) == rows(data)


def test_mixed_line_endings_and_no_final_newline() -> None:
    assert rows(b"a;1\r\nb;2\nc;3\rd;4") == [
        (1, cells("a", "1")),
        (2, cells("b", "2")),
        (3, cells("c", "3")),
        (4, cells("d", "4")),
    ]


def test_quoted_line_break_keeps_its_bytes() -> None:
    assert rows(b'x;"a\r\nb"\r\ny;z\r\n') == [(1, cells("x", "a\r\nb")), (3, cells("y", "z"))]


# --- Cells: trimming, ="…", padding, extras, blank rows -----------------------------------


def test_cells_are_trimmed_of_every_kind_of_space_but_not_inside() -> None:
    spaces = " \t\u00a0\u202f\u200b\ufeff"
    data = f"{spaces}Jean Pierre{spaces};  de  la Tour \u00a0;\u200b\u00a0x\u00a0\u200b\n"
    assert rows(data.encode("utf-8")) == [(1, cells("Jean Pierre", "de  la Tour", "x"))]


def test_trimming_applies_inside_quotes_too() -> None:
    assert rows(b'" a ";"\xc2\xa0b\xc2\xa0"\n') == [(1, cells("a", "b"))]


def test_windows1252_no_break_space_is_trimmed() -> None:
    assert rows(b"\xa0Dupont\xa0;x\r\n") == [(1, cells("Dupont", "x"))]


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        (b'="010780062"', "010780062"),
        (b'"=""010780062"""', "010780062"),
        (b' ="  0107 " ', "0107"),
        (b'="a""b"', 'a"b'),
        (b'"=""a""""b"""', 'a"b'),
        (b'=""', ""),
        (b'="', '="'),
        (b"=SOMME(A1)", "=SOMME(A1)"),
        (b'x="1"', 'x="1"'),
    ],
)
def test_spreadsheet_formula_quotes_are_unwrapped(raw: bytes, value: str) -> None:
    assert rows(raw + b";x\n") == [(1, cells(value, "x"))]


def test_cells_that_only_look_like_a_formula_once_joined_are_left_alone() -> None:
    assert rows(b'a=;"""b";="1"\n') == [(1, cells("a=", '"b', "1"))]


def test_unwrapping_works_in_a_windows1252_file() -> None:
    assert rows(b'="010780062";L\xe9a\r\n') == [(1, cells("010780062", "Léa"))]


def test_short_rows_are_padded_and_extra_cells_kept() -> None:
    assert rows(b"a;b\na;b;c;d;e;f;g;h;i;j;k;l;m;n;;\n") == [
        (1, cells("a", "b")),
        (2, ("a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "", "")),
    ]


def test_blank_rows_are_skipped() -> None:
    data = b'\r\n;;;;;;;;;;;;\r\n \t ; \xc2\xa0 ;\r\n"";"  "\r\na;b\r\n\r\n'
    assert rows(data) == [(5, cells("a", "b"))]


@pytest.mark.parametrize(
    "data",
    [b"", b"\r\n\r\n", b";;;;\n;;\n", HEADER.encode() + b"\r\n", b"\n\n" + HEADER.encode()],
    ids=["empty", "blank-lines", "empty-cells", "header-only", "header-after-blanks"],
)
def test_nothing_to_read_is_not_a_rejection(data: bytes) -> None:
    assert rows(data) == []


# --- The header ------------------------------------------------------------------------------


def test_header_is_skipped_in_windows1252_and_utf8() -> None:
    body = "\r\n".join([HEADER, "a;b"]) + "\r\n"
    assert rows(body.encode("cp1252")) == [(2, cells("a", "b"))]
    assert rows(b"\xef\xbb\xbf" + body.encode("utf-8")) == [(2, cells("a", "b"))]


def test_quoted_header_is_skipped() -> None:
    header = ";".join(f'"{name}"' for name in COLUMNS)
    assert rows(f'{header}\n"a";"b"\n'.encode()) == [(2, cells("a", "b"))]


def test_header_matching_ignores_case_accents_spaces_and_punctuation() -> None:
    header = (
        "FINESS EJ;finess-et; Nom de l’EQUIPE ;CodeAction;NOM;prenom;Nº RPPS;ROLE;identifiant;"
        "mot de passe;E-mail;date de debut;DATE DE FIN"
    )
    assert rows(f"\n{header}\na;b\n".encode()) == [(3, cells("a", "b"))]


@pytest.mark.parametrize("rpps", ["No RPPS", "N° RPPS", "N. RPPS", "RPPS", "Numéro RPPS"])
def test_header_rpps_variants(rpps: str) -> None:
    header = HEADER.replace("N° RPPS", rpps)
    assert rows(f"{header}\na;b\n".encode()) == [(2, cells("a", "b"))]


def test_header_tolerates_three_renamed_columns() -> None:
    header = HEADER.replace("Email", "Courriel").replace("Date de début", "Début")
    header = header.replace("Date de fin", "")
    assert rows(f"{header}\na;b\n".encode()) == [(2, cells("a", "b"))]


def test_a_row_naming_only_nine_columns_is_data() -> None:
    names = [*COLUMNS[:9], "x", "y", "z", "w"]
    assert rows(";".join(names).encode()) == [(1, tuple(names))]


def test_only_the_first_non_blank_row_can_be_the_header() -> None:
    data = f"a;b\n{HEADER}\n".encode()
    assert rows(data) == [(1, cells("a", "b")), (2, COLUMNS)]


def test_header_with_columns_out_of_order_is_rejected() -> None:
    names = list(COLUMNS)
    names[4], names[5] = names[5], names[4]
    data = (";".join(names) + "\na;b\n").encode()
    assert rejection(data) == (
        "Les colonnes ne sont pas dans l'ordre attendu : « Prénom » est en colonne 5 au lieu de 6. "
        "Remettez les colonnes dans l'ordre du modèle."
    )


def test_header_with_an_inserted_column_is_rejected() -> None:
    data = ("Commentaire;" + HEADER + "\n").encode()
    assert rejection(data) == (
        "Les colonnes ne sont pas dans l'ordre attendu : « Finess EJ » est en colonne 2 au lieu "
        "de 1. Remettez les colonnes dans l'ordre du modèle."
    )


# --- Limits ----------------------------------------------------------------------------------


def test_file_over_the_size_limit_is_rejected_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    path.write_bytes(b"a;b\n" * 300_000)  # 1,200,000 bytes ≈ 1.14 Mio
    limits = LimitsSettings(max_file_bytes=1 << 20)
    with pytest.raises(FileRejected) as info:
        next(read_rows(path, limits))
    assert info.value.reason == (
        "Fichier trop volumineux : 1,2 Mo pour une limite de 1 Mo. "
        "Découpez-le en plusieurs fichiers."
    )
    sparse = tmp_path / "sparse.csv"
    with sparse.open("wb") as fh:
        fh.truncate(50 * (1 << 20) + 1)  # one byte over the default limit, nothing written
    with pytest.raises(FileRejected) as info:
        next(read_rows(sparse, LIMITS))
    assert info.value.reason == (
        "Fichier trop volumineux : 50,1 Mo pour une limite de 50 Mo. "
        "Découpez-le en plusieurs fichiers."
    )


def test_size_limit_is_inclusive() -> None:
    data = b"a;b\n" * 10
    assert len(rows(data, LimitsSettings(max_file_bytes=len(data)))) == 10


def test_row_limit_counts_rows_not_lines() -> None:
    limits = LimitsSettings(max_rows=3)
    # 3 rows plus a header, blank lines and a multi-line cell: 9 physical lines.
    data = f'{HEADER}\n\na;1\n\nb;"x\ny"\n;;\nc;3\n\n'.encode()
    assert [n for n, _ in rows(data, limits)] == [3, 5, 8]
    assert rejection(data + b"d;4\n", limits) == (
        "Fichier trop long : 4 lignes pour une limite de 3. Découpez-le en plusieurs fichiers."
    )


def test_row_limit_message_groups_digits() -> None:
    limits = LimitsSettings(max_rows=1000)
    assert rejection(b"a;b\n" * 1001, limits) == (
        "Fichier trop long : 1 001 lignes pour une limite de 1 000. "
        "Découpez-le en plusieurs fichiers."
    )


# --- Not text --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("magic", "what"),
    [
        (b"PK\x03\x04\x14\x00\x06\x00", "un classeur (xlsx/ods)"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00\x00", "un classeur Excel 97-2003 (xls)"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3", "un document PDF"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "une image PNG"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "une image JPEG"),
        (b"GIF89a\x01\x00", "une image GIF"),
        ("a;b\r\n".encode("utf-16"), "un texte Unicode UTF-16 (« Texte Unicode » d'Excel)"),
    ],
)
def test_binary_files_are_named(magic: bytes, what: str) -> None:
    assert rejection(magic + b"x;y\n" * 3) == (
        f"Ce fichier n'est pas un fichier CSV mais {what} : {RESAVE}."
    )


def test_nul_bytes_mean_not_text() -> None:
    assert rejection(b"a;b\n" * 5 + b"c;\x00d\n") == (
        "Ce fichier n'est pas un fichier texte (c'est sans doute un document enregistré dans "
        f"un autre format) : ouvrez-le dans votre tableur et {RESAVE}."
    )


# --- Separator -------------------------------------------------------------------------------

COLUMNS_B = [c.encode() for c in COLUMNS]
ROW_B = [b"750712184", b"750100125", b"", b"C", b"Dupont", b"Jean", b"10000000017", b"CDC3D"]


@pytest.mark.parametrize(
    ("sep", "name"),
    [(b",", "des virgules"), (b"\t", "des tabulations"), (b"|", "des barres verticales (|)")],
)
def test_other_separators_are_rejected_and_named(sep: bytes, name: str) -> None:
    data = b"\r\n".join(sep.join(r) for r in [COLUMNS_B, ROW_B, ROW_B]) + b"\r\n"
    assert rejection(data) == (
        f"Les colonnes de ce fichier sont séparées par {name} et non par des points-virgules. "
        + SEPARATOR_HELP
    )


def test_comma_file_with_a_quoted_semicolon_is_still_a_comma_file() -> None:
    data = b'750712184,750100125,"R\xc3\xa9a; m\xc3\xa9d",C,Dupont\n1,2,3,C,Martin\n'
    assert rejection(data).startswith("Les colonnes de ce fichier sont séparées par des virgules")


def test_semicolon_file_with_commas_in_every_row_is_kept() -> None:
    row = '1,00000E+10;Dupont, Jean;"a,b,c";x,y;1,2;3,4;5,6;7,8;9,0;1,1;2,2;3,3;4,4'
    assert rows(f"{row}\r\n{row}\r\n".encode()) == [
        (1, ROW_WITH_COMMAS),
        (2, ROW_WITH_COMMAS),
    ]


ROW_WITH_COMMAS = (
    "1,00000E+10", "Dupont, Jean", "a,b,c", "x,y", "1,2", "3,4", "5,6", "7,8", "9,0", "1,1",
    "2,2", "3,3", "4,4",
)  # fmt: skip


def test_short_semicolon_rows_with_more_commas_than_semicolons_are_a_comma_file() -> None:
    # Below 10 cells, `;` must split at least as much as `,` does.
    data = b"a,b,c;d\r\ne,f,g;h\r\n"
    assert rejection(data).startswith("Les colonnes de ce fichier sont séparées par des virgules")


def test_single_column_file_is_rejected() -> None:
    assert rejection(b"Dupont\r\nMartin\r\n") == (
        "Ce fichier n'a qu'une seule colonne : aucun point-virgule ne sépare les champs. "
        "Le fichier attendu a 13 colonnes séparées par des points-virgules : partez du modèle "
        f"et {RESAVE}."
    )


def test_one_row_and_a_stray_single_cell_line_is_still_semicolon_separated() -> None:
    assert rows(b"a;b\r\nTotal") == [(1, cells("a", "b")), (2, cells("Total"))]


def test_a_single_column_title_line_above_semicolon_rows_is_tolerated() -> None:
    data = b"Import du 3, service X\n" + b"a;b;c, d\n" * 3
    assert rows(data) == [(1, cells("Import du 3, service X"))] + [
        (n, cells("a", "b", "c, d")) for n in (2, 3, 4)
    ]


# --- Quotes and runaway lines ---------------------------------------------------------------


def test_unterminated_quote_is_rejected_naming_the_line_where_it_opens() -> None:
    data = b'a;b\r\nc;"d\r\ne";f\r\n\r\ng;"never closed\r\nh;i\r\n'
    assert rejection(data) == (
        "Guillemet non refermé : le guillemet ouvert à la ligne 5 n'est jamais refermé, la "
        "suite du fichier serait lue comme une seule cellule. Refermez-le ou supprimez-le."
    )


def test_unterminated_quote_after_an_escaped_quote() -> None:
    assert "ligne 2 n'est jamais refermé" in rejection(b'a;b\nc;"d""\n')


def test_a_stray_quote_closed_lines_later_merges_them_into_one_cell() -> None:
    # Not a whole-file rejection: the row is reported at the line where it starts and the
    # rules flag the line break inside its cell.
    data = b'a;"b\r\nc;d\r\ne";f\r\ng;h\r\n'
    assert rows(data) == [(1, cells("a", "b\r\nc;d\r\ne", "f")), (4, cells("g", "h"))]


def test_quotes_inside_an_unquoted_cell_are_literal() -> None:
    data = b'O"Brien;a"b;x\n"q"z;y\n'
    assert rows(data) == [(1, cells('O"Brien', 'a"b', "x")), (2, cells("qz", "y"))]


def test_a_line_of_more_than_64_kib_is_rejected() -> None:
    data = b"a;b\n" * 3 + b"c;" + b"x" * 70_000 + b"\n"
    assert rejection(data) == (
        "La ligne 4 est anormalement longue : ce n'est pas un fichier d'import de profils. "
        f"Vérifiez le fichier déposé ; depuis votre tableur, {RESAVE}."
    )


def test_a_quoted_cell_of_more_than_64_kib_is_rejected() -> None:
    cell = b'"' + b"word\n" * 14_000 + b'"'  # 70,000 characters, short lines
    data = b"a;b\n" + b"c;" + cell + b";d\n" + b"e;f\n"
    assert rejection(data) == (
        "La cellule entre guillemets qui commence à la ligne 2 est anormalement longue : un "
        "guillemet n'est sans doute pas refermé. Refermez-le ou supprimez-le."
    )


def test_long_legitimate_content_below_the_bounds_is_read() -> None:
    cell = "é" * 16_000  # 32,000 bytes of UTF-8 on one line: under 32 KiB, always accepted
    assert rows(f"a;{cell}\n".encode()) == [(1, cells("a", cell))]


# --- Chunk boundaries of the pre-pass (files over 1 MiB) ----------------------------------


def filler(size: int) -> bytes:
    """`size` bytes of valid rows (LF), ending with a line break."""
    line = b"f;" + b"x" * 61 + b"\n"
    whole, rest = divmod(size, len(line))
    assert rest >= 3 or rest == 0
    return line * whole + (b"g;" + b"y" * (rest - 3) + b"\n" if rest else b"")


TAIL = b'h;"=""0""\r\n\xc3\xa9";k\r\n="1";\xe2\x80\x8bz\r\n'


# Where the 1 MiB boundary falls: inside `""`, after the first quote of `""` closing the cell,
# inside CRLF, inside é, inside `="`, inside the zero-width space (two places).
SPLITS = [b'h;"=', b'h;"=""0"', b'h;"=""0""\r', b"\r\n\xc3", b"\r\n=", b"\xe2", b"\xe2\x80"]


@pytest.mark.parametrize("split", SPLITS)
def test_structures_straddling_a_chunk_boundary(split: bytes) -> None:
    cut = len(TAIL) - (TAIL.index(split) + len(split))  # TAIL bytes after the boundary
    head = filler(CHUNK - len(TAIL) + cut)
    got = rows(head + TAIL)
    before = head.count(b"\n")
    assert len(got) == before + 2
    assert got[-2:] == [(before + 1, cells("h", '="0"\r\né', "k")), (before + 3, cells("1", "z"))]


def test_crlf_split_by_a_chunk_boundary_counts_once() -> None:
    data = filler(CHUNK - 4) + b"a;b\r\nc;d\r\n"  # the first \r is the chunk's last byte
    assert rows(data)[-2:] == [
        (CHUNK // 64 + 1, cells("a", "b")),
        (CHUNK // 64 + 2, cells("c", "d")),
    ]


def test_late_problems_are_found_before_the_first_row() -> None:
    base = filler(2 * CHUNK)
    lines = base.count(b"\n")
    for tail, expected in [
        (b'z;"open\n', f"à la ligne {lines + 1} n'est jamais refermé"),
        (b"z;\x9d\n", f"la ligne {lines + 1} contient un caractère que votre tableur"),
        (b"z;" + b"w" * 70_000 + b"\n", f"La ligne {lines + 1} est anormalement longue"),
    ]:
        it = rows_from_bytes(base + tail, LIMITS)
        with pytest.raises(FileRejected) as info:
            next(it)
        assert expected in info.value.reason


def test_a_quoted_cell_spanning_chunks_is_read() -> None:
    cell = b"line\n" * 4000  # 20,000 bytes across the 1 MiB boundary
    head = filler(CHUNK - 10_000)
    got = rows(head + b'a;"' + cell + b'";b\n' + b"c;d\n")
    start = head.count(b"\n") + 1
    assert got[-2:] == [
        (start, cells("a", cell.decode().strip(), "b")),
        (start + 4001, cells("c", "d")),
    ]


# --- A file that changes while it is read -------------------------------------------------


def test_a_file_growing_past_the_limit_during_the_pre_pass_is_rejected() -> None:
    # What stat said (size 10) is less than what reading finds.
    with pytest.raises(FileRejected) as info:
        scan(io.BytesIO(b"a;b\n" * 1000), max_bytes=10)
    assert info.value.reason == (
        "Le fichier a été modifié pendant sa lecture : déposez-le de nouveau, une fois "
        "complètement enregistré."
    )


def test_a_file_corrupted_between_the_passes_is_rejected_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes("a;é\r\n".encode() * 20_000)  # UTF-8
    it = read_rows(path, LIMITS)
    assert next(it) == Row(1, cells("a", "é"))
    with path.open("r+b") as fh:  # the parse reads ahead 8 KiB at most: this is still ahead
        fh.seek(50_000)
        fh.write(b"\xff")  # never valid in UTF-8
    with pytest.raises(FileRejected) as info:
        list(it)
    assert info.value.reason.startswith("Le fichier a été modifié pendant sa lecture")


def test_a_header_and_exactly_the_limit_of_rows_are_parsed_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    parses: list[int] = []
    real_parse = csvfile._parse

    def spy(fh: BinaryIO, found: Scan) -> Iterator[Row]:
        parses.append(1)
        return real_parse(fh, found)

    monkeypatch.setattr(csvfile, "_parse", spy)
    limits = LimitsSettings(max_rows=3)
    data = f"{HEADER}\r\na;1\r\nb;2\r\nc;3\r\n".encode()
    assert [n for n, _ in rows(data, limits)] == [2, 3, 4]
    assert len(parses) == 1  # 4 physical lines, minus the header: no counting pass
    parses.clear()
    assert [n for n, _ in rows(b"\r\n" + data, limits)] == [3, 4, 5]
    assert len(parses) == 2  # a blank line: the rows had to be counted
    assert rejection(data + b"d;4\r\n", limits).startswith("Fichier trop long : 4 lignes pour")
