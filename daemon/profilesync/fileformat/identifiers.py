"""FINESS, RPPS, MSSanté email and dates: what a spreadsheet does to them, and how we read them.

Each reader takes a non-empty, already trimmed cell and returns `(value, problem)`:

- `(value, None)`: valid, `value` normalised;
- `(value, OK note)`: accepted after a certain repair of what a spreadsheet did (SPEC 2b);
- `(None, ALERTE)`: ignored, the rest of the line still applies (a non-MSSanté email);
- `(None, ERREUR)`: refused.

They are pure and allocation-light because they run once per cell of files of 100,000+
lines; FINESS values repeat on every line of a file, so their verdicts are cached. Every
pattern is ASCII-only: `\\d` would also accept Arabic-Indic digits, which `int()` reads.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from functools import lru_cache

from profilesync.fileformat import messages as msg
from profilesync.fileformat.columns import COLUMNS, RPPS
from profilesync.fileformat.outcome import Problem

Parsed = tuple[str | None, Problem | None]
ParsedDate = tuple[date | None, Problem | None]

# Verdicts on short cells are cached (a file repeats its EJ, ET and dates on every line);
# long cells are never kept, so a hostile file cannot make the daemon hoard its content.
_CACHE_SIZE = 4096
_CACHED_MAX = 16

_DOUBLED = bytes.maketrans(b"0123456789", b"0246813579")  # digit -> digit sum of its double


def luhn_ok(digits: str) -> bool:
    """Luhn check of an ASCII-digit string (the last digit being the key).

    The same algorithm as `stdnum.luhn.checksum(digits) == 0` (the tests hold them equal),
    four times faster: RPPS numbers are unique per line, so this runs 100,000 times a file.
    """
    code = digits.encode()
    total = sum(code[-1::-2]) + sum(code[-2::-2].translate(_DOUBLED))
    return (total - 48 * len(code)) % 10 == 0


# ---------------------------------------------------------------------------------------------
# FINESS
# ---------------------------------------------------------------------------------------------

# The key is a Luhn over the 9 characters with Corsica's letters read as digits. The mapping
# fits every public Corsican number but is not officially documented: this is its one place.
CORSICA_DIGITS = {"2A": "21", "2B": "22"}

_FINESS = re.compile(r"(?:0[1-9]|[1-8][0-9]|9[0-5]|2[AB]|9[78])[0-9]{7}")
_EIGHT_DIGITS = re.compile(r"[0-9]{8}")
_SCIENTIFIC = re.compile(r"[0-9]+(?:[.,][0-9]+)?[Ee][+-]?[0-9]+")


def finess_valid(value: str) -> bool:
    """True for a canonical (upper-case, 9-character) FINESS whose département and key are right."""
    if _FINESS.fullmatch(value) is None:
        return False
    return luhn_ok(CORSICA_DIGITS.get(value[:2], value[:2]) + value[2:])


def read_finess(text: str, column: str) -> Parsed:
    """A FINESS cell; an 8-digit value whose leading 0 a spreadsheet dropped is completed."""
    if len(text) > _CACHED_MAX:
        return _read_finess(text, column)
    return _read_finess_cached(text, column)


def _read_finess(text: str, column: str) -> Parsed:
    value = text.upper()
    if finess_valid(value):
        return value, None
    if _EIGHT_DIGITS.fullmatch(value):
        padded = "0" + value
        if finess_valid(padded):
            return padded, Problem.note(msg.finess_completed(column, padded))
        return None, Problem.erreur(msg.finess_missing_key(column))
    if _SCIENTIFIC.fullmatch(value):
        return None, Problem.erreur(msg.scientific_notation(column))
    if _FINESS.fullmatch(value):
        return None, Problem.erreur(msg.finess_key(column))
    return None, Problem.erreur(msg.finess_malformed(column))


_read_finess_cached = lru_cache(maxsize=_CACHE_SIZE)(_read_finess)


# ---------------------------------------------------------------------------------------------
# RPPS
# ---------------------------------------------------------------------------------------------

_RPPS_LENGTH = 11
_RPPS = re.compile(r"[0-9]{11}")
_PP_WITH_8 = re.compile(r"8[0-9]{11}")
RPPS_COLUMN = COLUMNS[RPPS]


def rpps_valid(value: str) -> bool:
    """11 digits with a Luhn key over all 11 (no rule on the leading `10`: it is not documented)."""
    # Same as _RPPS.fullmatch, faster: in an ASCII string, isdigit() is exactly [0-9].
    return len(value) == _RPPS_LENGTH and value.isascii() and value.isdigit() and luhn_ok(value)


def read_rpps(text: str) -> Parsed:
    """An RPPS cell; the two spreadsheet accidents (scientific notation, 8 + RPPS) get a hint."""
    if rpps_valid(text):
        return text, None
    if _RPPS.fullmatch(text):
        return None, Problem.erreur(msg.RPPS_KEY)
    if _SCIENTIFIC.fullmatch(text):
        return None, Problem.erreur(msg.scientific_notation(RPPS_COLUMN))
    if _PP_WITH_8.fullmatch(text) and rpps_valid(text[1:]):
        return None, Problem.erreur(msg.RPPS_WITH_8)
    return None, Problem.erreur(msg.RPPS_MALFORMED)


# ---------------------------------------------------------------------------------------------
# MSSanté email
# ---------------------------------------------------------------------------------------------

# RFC 5322 dot-atom local part (ASCII), then DNS labels; MSSanté is `mssante.fr` or a
# subdomain of it, so `x@mssante.fr.evil.com` and `x@xmssante.fr` are not.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DOT_ATOM_PATTERN = rf"{_ATOM}(?:\.{_ATOM})*"
_DOMAIN = rf"(?:{_LABEL}\.)+{_LABEL}"
# The rule as two whole-cell patterns: an MSSanté address, else any address. (The tests
# hold read_mssante_email equal to them; it matches their two halves apart.)
# re.ASCII: with IGNORECASE alone, `[a-z]` would also match the Kelvin sign and the long s.
_MSSANTE_DOMAIN_PATTERN = rf"(?:{_LABEL}\.)*mssante\.fr"
_MSSANTE_EMAIL = re.compile(
    rf"{_DOT_ATOM_PATTERN}@{_MSSANTE_DOMAIN_PATTERN}", re.IGNORECASE | re.ASCII
)
_EMAIL = re.compile(rf"{_DOT_ATOM_PATTERN}@{_DOMAIN}")
_LOCAL_MAX = 64
EMAIL_MAX = 254
_DOT_ATOM = re.compile(_DOT_ATOM_PATTERN)
_MSSANTE_DOMAIN = re.compile(_MSSANTE_DOMAIN_PATTERN, re.IGNORECASE | re.ASCII)
_ANY_DOMAIN = re.compile(_DOMAIN)
_MSSANTE, _OTHER_DOMAIN, _NOT_A_DOMAIN = 0, 1, 2
_DOMAIN_KINDS: dict[str, int] = {}
_CACHED_DOMAIN_MAX = 100
# Immutable, so one instance serves every line.
_NOT_MSSANTE = Problem.alerte(msg.EMAIL_NOT_MSSANTE)
_EMAIL_MALFORMED = Problem.alerte(msg.EMAIL_MALFORMED)


def read_mssante_email(text: str) -> Parsed:
    """An email cell: an MSSanté address lower-cased, anything else ignored with ALERTE."""
    # The local part cannot contain `@`, so any match splits the cell at its first `@`:
    # the local part is matched in place and the domain's verdict (a file has a handful of
    # domains) is looked up; the same answers as _MSSANTE_EMAIL then _EMAIL on the cell.
    at = text.find("@")
    if 0 < at <= _LOCAL_MAX and len(text) <= EMAIL_MAX and _DOT_ATOM.fullmatch(text, 0, at):
        domain = text[at + 1 :]
        kind = _DOMAIN_KINDS.get(domain)
        if kind is None:
            kind = _domain_kind(domain)
        if kind == _MSSANTE:
            return text.lower(), None
        if kind == _OTHER_DOMAIN:
            return None, _NOT_MSSANTE
    return None, _EMAIL_MALFORMED


def _domain_kind(domain: str) -> int:
    if _MSSANTE_DOMAIN.fullmatch(domain) is not None:
        kind = _MSSANTE
    elif _ANY_DOMAIN.fullmatch(domain) is not None:
        kind = _OTHER_DOMAIN
    else:
        kind = _NOT_A_DOMAIN
    if len(domain) <= _CACHED_DOMAIN_MAX:
        if len(_DOMAIN_KINDS) >= _CACHE_SIZE:
            _DOMAIN_KINDS.clear()
        _DOMAIN_KINDS[domain] = kind
    return kind


# ---------------------------------------------------------------------------------------------
# Dates
# ---------------------------------------------------------------------------------------------

_DMY = re.compile(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})")
_DMY_SHORT_YEAR = re.compile(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{2})")
_ISO = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
# Excel/Calc day numbers: 5 digits cover 1927-2173, optionally with a time fraction.
_SERIAL = re.compile(r"([0-9]{5})(?:[.,][0-9]+)?")
_SERIAL_EPOCH = date(1899, 12, 30)
MIN_YEAR = 1900
# A two-digit year is completed into [this year - 50, this year + 49] (SPEC 2b).
YEARS_BACK = 50


def format_date(value: date) -> str:
    """JJ/MM/AAAA, the only format the référent writes and the export produces."""
    return f"{value.day:02d}/{value.month:02d}/{value.year:04d}"


def complete_year(two_digits: int, this_year: int) -> int:
    """The one year ending in `two_digits` within [this_year - 50, this_year + 49]."""
    first = this_year - YEARS_BACK
    return first + (two_digits - first) % 100


def _calendar(year: int, month: int, day: int) -> date | None:
    if year < MIN_YEAR:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


def read_date(text: str, column: str, this_year: int) -> ParsedDate:
    """A date cell: JJ/MM/AAAA or J/M/AAAA; a two-digit year or ISO repaired with a note;
    serials refused. `this_year` (Europe/Paris) places a two-digit year."""
    if len(text) > _CACHED_MAX:
        return _read_date(text, column, this_year)
    return _read_date_cached(text, column, this_year)


def _read_date(text: str, column: str, this_year: int) -> ParsedDate:
    m = _DMY.fullmatch(text)
    if m is not None:
        day, month, year = m.groups()
        d = _calendar(int(year), int(month), int(day))
        if d is None:
            return None, Problem.erreur(msg.date_nonexistent(column))
        return d, None
    m = _DMY_SHORT_YEAR.fullmatch(text)
    if m is not None:
        year = complete_year(int(m.group(3)), this_year)
        d = _calendar(year, int(m.group(2)), int(m.group(1)))
        if d is None:
            return None, Problem.erreur(msg.date_nonexistent(column))
        return d, Problem.note(msg.date_year_completed(column, format_date(d)))
    m = _ISO.fullmatch(text)
    if m is not None:
        d = _calendar(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        if d is None:
            return None, Problem.erreur(msg.date_nonexistent(column))
        return d, Problem.note(msg.date_iso(column, format_date(d)))
    m = _SERIAL.fullmatch(text)
    if m is not None:
        guess = format_date(_SERIAL_EPOCH + timedelta(days=int(m.group(1))))
        return None, Problem.erreur(msg.date_serial(column, guess))
    return None, Problem.erreur(msg.date_malformed(column))


# A file's lines share a handful of début and fin dates.
_read_date_cached = lru_cache(maxsize=_CACHE_SIZE)(_read_date)
