"""The kept copy of an input file with its passwords masked, every other byte unchanged.

The archive is evidence of what a référent sent, so it is not re-serialised (that would
re-quote cells, change line endings or the encoding): the file is tokenised per RFC 4180
with `;`, and only the spans of non-empty password cells are replaced by `***`. A row with
non-empty cells beyond the 13th had its columns shifted by an unquoted `;`, so there every
non-empty cell from "Mot de passe" on is masked, as the report does. A header row is left
alone. Bytes that are not text we can tokenise with confidence give None: the caller then
keeps no readable archive rather than risk keeping a password. A quote never closed is such a
case: the reader rejects the file for it, and the rest of the file, password cells included,
would be one cell opened before the password column (issue 14).
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from collections.abc import Iterator

from profilesync.errors import ProfilesyncError
from profilesync.fileformat.columns import COLUMNS, MASK, NCOLS, PASSWORD

_UNQUOTED = re.compile(r"[^;\r\n]*")
_UNTIL_SEPARATOR = re.compile(r"[^;\r\n]*")

Field = tuple[int, int, str]  # start, end (in the text), unquoted value


class UnterminatedQuote(ProfilesyncError):
    """A quoted cell runs to the end of the file: no telling where the password cell is."""


def _norm(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if c.isalnum())


_HEADER = tuple(_norm(c) for c in COLUMNS)


def records(text: str) -> Iterator[list[Field]]:
    """RFC 4180 records with the position of each field; quotes may span lines."""
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


def _to_mask(fields: list[Field]) -> list[Field]:
    values = [v.strip() for _, _, v in fields]
    if tuple(_norm(v) for v in values[:NCOLS]) == _HEADER:
        return []
    last = len(fields) if any(values[NCOLS:]) else PASSWORD + 1
    return [f for f, v in zip(fields[PASSWORD:last], values[PASSWORD:last], strict=True) if v]


def mask_passwords(data: bytes) -> bytes | None:
    """`data` with every given password replaced by `***`, or None when it is not CSV text."""
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
    try:
        for fields in records(text):
            for start, end, _ in _to_mask(fields):
                out.append(text[pos:start])
                out.append(MASK)
                pos = end
    except UnterminatedQuote:
        return None
    out.append(text[pos:])
    return (codecs.BOM_UTF8 if bom else b"") + "".join(out).encode(encoding)
