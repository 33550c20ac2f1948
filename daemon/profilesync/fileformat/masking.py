"""Which cells of an input row may hold a password, and the archive with those cells masked.

Every kept copy of a row — the report, `line_outcome.cells`, the archive — goes through
`masked_cells`, so they cannot disagree, and none of them may show a password whatever
became of the row on its way (a `;` too many or too few, a bare line break splitting it).
The rule, and why it is safe, is in docs/architecture.md (« Masking »):

- An *aligned* row has a role code in its Rôle cell and no filled cell beyond the 13th.
  The password comes after the Rôle in every row shape, so it can only be right of it: the
  Mot de passe cell is masked when filled, and Identifiant, Email, Date de début and Date
  de fin are masked when they could contain an accepted password (`could_hold_password`;
  an MSSanté address is judged on its part before the `@`).
- Any other row has every filled cell masked but the public values a password cannot be:
  a FINESS, an RPPS, an action or role code, a date (`_public`), and its Mot de passe
  cell masked whatever it holds.

The archive is evidence of what a référent sent, so it is not re-serialised (that would
re-quote cells, change line endings or the encoding): the file is tokenised per RFC 4180
with `;`, exactly as the csv module splits it, each record's values are cleaned as
`csvfile` cleans them, and only the spans of the cells `masked_cells` masks are replaced by
`***`. Bytes that are not text we can tokenise with confidence give None: the caller then
keeps no readable archive rather than risk keeping a password. A quote never
closed is such a case: the reader rejects the file for it, and the rest of the file,
password cells included, would be one cell opened before the password column.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator, Sequence

from profilesync.config import PasswordSettings
from profilesync.errors import ProfilesyncError
from profilesync.fileformat import identifiers
from profilesync.fileformat.columns import (
    DEBUT,
    EMAIL,
    FIN,
    IDENTIFIANT,
    MASK,
    NCOLS,
    PASSWORD,
    ROLE,
)
from profilesync.fileformat.csvfile import FileRejected, clean_cells, is_header, names_a_column
from profilesync.fileformat.roles import Role, ascii_upper

_UNQUOTED = re.compile(r"[^;\r\n]*")
_UNTIL_SEPARATOR = re.compile(r"[^;\r\n]*")

Field = tuple[int, int, str]  # start, end (in the text), unquoted value

# The thresholds of `could_hold_password` are the policy's, but never stricter than the
# default: a password set while the policy was the default is still valid after an operator
# makes the policy stricter.
DEFAULT_POLICY = PasswordSettings()
_ROLE_CODES = frozenset(r.value for r in Role)
_ROLE_KEYS = _ROLE_CODES | {code.lower() for code in _ROLE_CODES}  # the usual cases, no upper()
_ACTION_CODES = frozenset("CMS")
_DIGIT = re.compile(r"\d")
_OTHER = re.compile(r"[\W_]")
_NOTHING_TO_HIDE = frozenset(("", MASK))
_MSSANTE_ENDS = ("@mssante.fr", ".mssante.fr")  # what the rules' MSSanté addresses end with
# The columns right of the Rôle: where the password can be in an aligned row.
_RIGHT_OF_ROLE = (IDENTIFIANT, PASSWORD, EMAIL, DEBUT, FIN)
_PADDING = tuple(("",) * (NCOLS - n) for n in range(NCOLS))
_MIN_LENGTH = DEFAULT_POLICY.min_length
_MIN_CLASSES = DEFAULT_POLICY.min_classes


class UnterminatedQuote(ProfilesyncError):
    """A quoted cell runs to the end of the file: no telling where the password cell is."""


def character_classes(text: str) -> int:
    """How many of lower-case, upper-case, digit and other characters `text` mixes.

    The password policy counts with it, so "could be a password" and "is an acceptable
    password" cannot drift apart. Each class is kept by any text containing `text`.
    """
    return (
        (text != text.upper())  # has a lower-case letter
        + (text != text.lower())  # has an upper-case letter
        + (_DIGIT.search(text) is not None)
        + (_OTHER.search(text) is not None)
    )


def _thresholds(policy: PasswordSettings) -> tuple[int, int]:
    length, classes = policy.min_length, policy.min_classes
    return min(length, _MIN_LENGTH), min(classes, _MIN_CLASSES)


def could_hold_password(text: str, policy: PasswordSettings = DEFAULT_POLICY) -> bool:
    """Whether `text` may contain a password the policy accepts (a shifted one, or one glued
    to its neighbour by a missing `;`): long enough and mixing enough classes."""
    length, classes = _thresholds(policy)
    return len(text) >= length and _reaches(text, classes)


def _reaches(text: str, classes: int) -> bool:
    """`character_classes(text) >= classes`, or True where it may not be (never the other
    way), cheaply for the usual all-lower-case login or address: it has no upper-case
    letter, so at most lower-case, digit and other (`[\\W_]` is "not alphanumeric")."""
    if text.islower():
        other = not text.isalnum()
        if 2 + other < classes:  # even with a digit
            return False
        return 1 + other >= classes or _DIGIT.search(text) is not None
    return character_classes(text) >= classes


def aligned(cells: Sequence[str]) -> bool:
    """A role code in the Rôle cell and nothing beyond the 13th: the row is not shifted
    up to its Rôle, so its password cannot be left of it. A role code as the rules read
    one (any case, ASCII only): a cell they refuse (`ſYNT`) does not make a row aligned."""
    n = len(cells)
    if n <= ROLE or (cells[ROLE] not in _ROLE_KEYS and ascii_upper(cells[ROLE]) not in _ROLE_CODES):
        return False
    return n <= NCOLS or not any(cells[NCOLS:])


class Masked(tuple[str, ...]):
    """Cells as `masked_cells` returned them: the report writer need not mask them again
    (it masks anything else), which halves the rule's cost on `check`'s hot path."""

    __slots__ = ()


def masked_cells(cells: Sequence[str], policy: PasswordSettings = DEFAULT_POLICY) -> Masked:
    """`cells` (as csvfile makes them, padded or not) with every cell that may hold a
    password replaced by `***`; as many cells as given. Applying it twice changes nothing.

    It runs on every row of every file: the usual aligned row costs a few length tests
    (names and dates are short), and nothing is copied when no cell is to be masked.
    """
    n = len(cells)
    if not aligned(cells):
        out = [c if not c or c == MASK or _public(c) else MASK for c in cells]
        if n > PASSWORD and out[PASSWORD]:
            out[PASSWORD] = MASK  # whatever it holds: a second pass finds nothing more to mask
        return Masked(out)
    row = cells if n >= NCOLS else (*cells, *_PADDING[n])
    length, classes = policy.min_length, policy.min_classes  # the _thresholds, inlined
    length = length if length < _MIN_LENGTH else _MIN_LENGTH
    classes = classes if classes < _MIN_CLASSES else _MIN_CLASSES
    ident, password, email, debut, fin = (
        row[IDENTIFIANT], row[PASSWORD], row[EMAIL], row[DEBUT], row[FIN]
    )  # fmt: skip
    if (
        len(ident) < length
        and len(debut) < length
        and len(fin) < length
        and (len(email) < length or _short_mssante_local(email, length))
    ):
        # The usual row: login, dates and address local part too short for a password;
        # only the Mot de passe cell is to hide, if filled.
        if password in _NOTHING_TO_HIDE:
            return Masked(cells)
        return Masked((*cells[:PASSWORD], MASK, *cells[PASSWORD + 1 :]))
    hide = (
        len(ident) >= length and _reaches(ident, classes),
        password not in _NOTHING_TO_HIDE,
        len(email) >= length and _email_may_hold_password(email, length, classes),
        len(debut) >= length and _reaches(debut, classes),
        len(fin) >= length and _reaches(fin, classes),
    )
    out = list(cells)
    for i, hidden in zip(_RIGHT_OF_ROLE, hide, strict=True):
        if hidden:
            out[i] = MASK
    return Masked(out)


def _short_mssante_local(text: str, length: int) -> bool:
    """An MSSanté address whose local part is shorter than a password: shown as it is."""
    at = text.rfind("@")
    return 0 < at < length and text.endswith(_MSSANTE_ENDS)


def _email_may_hold_password(text: str, length: int, classes: int) -> bool:
    """A password glued before an address by a missing `;` lands in its local part: an
    MSSanté address whose local part cannot hold one is shown; anything else is judged
    whole (a lone password may contain `@`)."""
    at = text.rfind("@")
    if at > 0 and text.endswith(_MSSANTE_ENDS):
        return at >= length and _reaches(text[:at], classes)
    return _reaches(text, classes)


# The year a two-digit year is placed by hardly changes whether a cell is a date (only
# 29/02/yy may differ), and a public cell need not be exact.
_ANY_YEAR = 2000


def _is_date(cell: str) -> bool:
    return identifiers.read_date(cell, "", _ANY_YEAR)[0] is not None


def _public(cell: str) -> bool:
    """Values no policy-compliant password can be (all shorter than 12 characters), and
    public anyway: kept in a shifted row, so the référent can still tell which row it is."""
    upper = ascii_upper(cell)  # the codes as the rules read them
    return (
        upper in _ACTION_CODES
        or upper in _ROLE_CODES
        or identifiers.rpps_valid(cell)
        or (len(cell) <= len("2A0000000") and identifiers.read_finess(cell, "")[0] is not None)
        or (len(cell) <= len("2026-01-01") and _is_date(cell))
    )


def records(text: str) -> Iterator[list[Field]]:
    """RFC 4180 records with the position of each field; quotes may span lines.

    Split exactly as the csv module (non-strict, `;`) splits them: a quote inside an
    unquoted field is literal, text after a closing quote is appended, and an unquoted CR,
    LF or CRLF ends the record.
    """
    i, n = 0, len(text)
    while i < n:
        fields: list[Field] = []
        while True:
            start = i
            if i < n and text[i] == '"':
                parts: list[str] = []
                i += 1
                while True:
                    j = text.find('"', i)
                    if j < 0:  # unterminated: the rest of the file is this cell
                        raise UnterminatedQuote(start)
                    parts.append(text[i:j])
                    if j + 1 < n and text[j + 1] == '"':
                        parts.append('"')
                        i = j + 2
                        continue
                    i = j + 1
                    break
                m = _UNTIL_SEPARATOR.match(text, i)
                assert m is not None
                parts.append(m.group())
                i = m.end()
                value = "".join(parts)
            else:
                m = _UNQUOTED.match(text, i)
                assert m is not None
                value = m.group()
                i = m.end()
            fields.append((start, i, value))
            if i < n and text[i] == ";":
                i += 1
                continue
            break
        if i < n and text[i] == "\r":
            i += 1
        if i < n and text[i] == "\n":
            i += 1
        yield fields


def _to_mask(fields: list[Field], policy: PasswordSettings, first: bool) -> list[Field]:
    """The fields of one record to replace: what `masked_cells` masks in the row csvfile
    reads from it; in the header row, any cell that names no column."""
    values = clean_cells(v for _, _, v in fields)
    if first and _header(values):
        return [f for f, v in zip(fields, values, strict=True) if v and not names_a_column(v)]
    out = masked_cells(values, policy)
    return [f for f, v, o in zip(fields, values, out, strict=True) if o != v]


def _header(values: tuple[str, ...]) -> bool:
    try:
        return is_header(values)
    except FileRejected:  # columns out of order: the file is rejected, its rows masked
        return False


def mask_passwords(data: bytes, policy: PasswordSettings = DEFAULT_POLICY) -> bytes | None:
    """`data` with every cell that may hold a password replaced by `***`, or None when it
    is not CSV text."""
    bom = data.startswith(codecs.BOM_UTF8)
    body = data[len(codecs.BOM_UTF8) :] if bom else data
    try:
        text, encoding = body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        try:
            text, encoding = body.decode("cp1252"), "cp1252"
        except UnicodeDecodeError:
            return None
    if "\x00" in text:
        return None
    out: list[str] = []
    pos = 0
    first = True  # csvfile takes only the first non-blank row for a header
    try:
        for fields in records(text):
            if first and not any(clean_cells(v for _, _, v in fields)):
                continue
            for start, end, _ in _to_mask(fields, policy, first):
                out.append(text[pos:start])
                out.append(MASK)
                pos = end
            first = False
    except UnterminatedQuote:
        return None
    out.append(text[pos:])
    return (codecs.BOM_UTF8 if bom else b"") + "".join(out).encode(encoding)
