"""Case- and accent-blind forms of what people type, for the rules and the store alike.

A référent's spreadsheet, an older file and the database spell one name several ways
(« Lefèvre », « LEFEVRE », a Mac's decomposed « Lefèvre »), so every comparison of typed
names goes through here. Two forms, because the two questions differ on white space:

- `fold`: does a password contain the login or the Nom (the password policy)? It
  compares the characters as typed, spaces included.
- `fold_words`: do two spellings name the same person (the store, before it lets a line
  touch an existing account)? How many spaces were typed, and where, does not matter.

Both run once per line of large files: ASCII, the usual case, is lower-cased directly,
and the combining marks are dropped by a translate table rather than character by
character (see benchmarks/bench_rules.py).
"""

from __future__ import annotations

import unicodedata


class _NotCombining(dict[int, int | None]):
    """A `str.translate` table deleting the combining marks, filled as characters are met.

    (Listing all 0x110000 code points at import would cost a tenth of a second to every
    command.) A character not in the table is looked up once; past _TABLE_MAX distinct
    characters, new ones are answered without being kept.
    """

    def __missing__(self, code: int) -> int | None:
        kept = None if unicodedata.combining(chr(code)) else code
        if len(self) < _TABLE_MAX:
            self[code] = kept
        return kept


_TABLE_MAX = 10_000
_DROP_COMBINING = _NotCombining()


def fold(text: str) -> str:
    """`text` without case and accents, its spaces kept: « Élodie » and « ELODIE » match."""
    if text.isascii():
        return text.lower()
    return unicodedata.normalize("NFKD", text).translate(_DROP_COMBINING).casefold()


def fold_words(text: str) -> str:
    """`fold`, with each run of white space one space and none at the ends.

    « LEFEVRE  elodie » typed with two spaces is « Lefèvre Élodie »: a name is its words.
    """
    return " ".join(fold(text).split())
