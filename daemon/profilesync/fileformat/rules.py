"""The stateless rules: one row of 13 cells -> a typed `Line`, or every problem found on it.

Nothing here reads a database, a clock or a file: `today` and the password policy come in,
so `profilesync check` and the importer judge a line the same way. Every problem of the
line is collected (the référent fixes them all in one go), in column order; the store adds
the rules that need state. It runs once per line of files of 100,000+ lines: lookups are
precomputed at import, the verdicts of the cells a file repeats (FINESS, team, names,
dates) are cached in bounded dicts, `check` gets the verdict without a Line
(`report_row`), and the usual path allocates little (see benchmarks/bench_rules.py).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from typing import Any, NamedTuple, Protocol

from profilesync.config import PasswordSettings
from profilesync.fileformat import identifiers
from profilesync.fileformat import messages as msg
from profilesync.fileformat.columns import (
    ACTION,
    COLUMNS,
    DEBUT,
    EJ,
    EMAIL,
    ET,
    FIN,
    IDENTIFIANT,
    NCOLS,
    NOM,
    PRENOM,
    ROLE,
    TEAM,
)
from profilesync.fileformat.folding import fold
from profilesync.fileformat.lines import Action, Checked, Line
from profilesync.fileformat.masking import Masked, character_classes, masked_cells
from profilesync.fileformat.outcome import Code, Problem
from profilesync.fileformat.roles import ROLES, Need, Role, ascii_upper
from profilesync.secret import Secret

NAME_MAX = 100  # Nom, Prénom (SPEC §2; the account table's column size)
TEAM_MAX = 200  # the team table's column size
IDENTIFIANT_MAX = 100  # the account key's column size

# Containment of the login or the Nom in a password is only checked for values of this
# length or more: a two-letter login would otherwise forbid most passwords.
_CONTAINMENT_MIN = 3


class RowLike(Protocol):
    """What the rules need of a parsed row (csvfile.Row): its physical line and its cells."""

    @property
    def number(self) -> int: ...

    @property
    def cells(self) -> tuple[str, ...]: ...


_C_NAME = COLUMNS[NOM]
_C_PRENOM = COLUMNS[PRENOM]
_C_TEAM = COLUMNS[TEAM]
_C_ACTION = COLUMNS[ACTION]
_C_ROLE = COLUMNS[ROLE]
_C_IDENTIFIANT = COLUMNS[IDENTIFIANT]
_C_EJ = COLUMNS[EJ]
_C_ET = COLUMNS[ET]
_C_DEBUT = COLUMNS[DEBUT]
_C_FIN = COLUMNS[FIN]
_C_EMAIL = COLUMNS[EMAIL]

# Enum members and properties are looked up once here: check_row runs 100,000 times a file.
_CREATE, _DELETE = Action.CREATE, Action.DELETE
_ERREUR = Code.ERREUR
_REQUIRED, _FORBIDDEN = Need.REQUIRED, Need.FORBIDDEN


class _RoleInfo(NamedTuple):
    role: Role
    doctor: bool
    team: Need


# Codes are case-insensitive (the spec says so of roles; actions follow): both cases are
# keys, so the usual cell costs one dict lookup and no `upper()`.
_ACTIONS: dict[str, Action] = {}
for _a in Action:
    _ACTIONS[_a.value] = _ACTIONS[_a.value.lower()] = _a
_ROLES: dict[str, _RoleInfo] = {}
for _spec in ROLES.values():
    _info = _RoleInfo(_spec.role, _spec.doctor, _spec.team)
    _ROLES[_spec.role.value] = _ROLES[_spec.role.value.lower()] = _info
_ROLE_CODES = ", ".join(Role)

_EMPTY_ROW = ("",) * NCOLS
# A Rôle found up to this many columns right (or left) of its place means the row is shifted.
_MAX_OFFSET = 3
_OFFSETS: tuple[int, ...] = (*range(1, _MAX_OFFSET + 1), *range(-1, -_MAX_OFFSET - 1, -1))

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# Characters Python calls printable that show nothing: Hangul fillers, the braille blank,
# the combining grapheme joiner, variation selectors, Khmer inherent vowels, Mongolian
# free variation selectors. (Controls, format characters, line and paragraph separators
# are not printable, and are found as such.)
_PRINTABLE_INVISIBLE = re.compile(
    "[\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180d\u180f\u2800\u3164\ufe00-\ufe0f\uffa0"
    "\U000e0100-\U000e01ef]"
)
_LINE_BREAKS = frozenset("\n\r\x0b\x0c\x85\u2028\u2029")
# What a Windows-1252 save writes for a character it cannot hold, and what a decoder writes
# for bytes it could not read (SPEC 2b).
_LOST = "?"
_REPLACEMENT = "\ufffd"
# Names: letters of any alphabet, combining accents, spaces, hyphens, apostrophes, periods.
_NAME_MARKS = frozenset("-\u2010\u2011'\u2019.")  # and every space (category Zs)
_ASCII_NAME = re.compile(r"[A-Za-z .'-]*")
_IDENTIFIANT = re.compile(rf"[a-z0-9][a-z0-9._@-]{{0,{IDENTIFIANT_MAX - 1}}}")
_RPPS_LENGTH = 11


def check_row(row: RowLike, today: date, policy: PasswordSettings) -> Checked:
    """Judge one row; `today` (Europe/Paris) decides whether a `C`'s fin is already past."""
    out_cells, problems, fields = _judge(row.cells, today, policy)
    if fields is None:
        return Checked(row.number, out_cells, None, problems)
    ej, et, team, action, nom, prenom, rpps, role, identifiant, pw, email, debut, fin = fields
    line = Line(
        row.number,
        ej,
        et,
        team,
        action,
        nom,
        prenom,
        rpps,
        role,
        identifiant,
        None if pw is None else Secret(pw),
        email,
        debut,
        fin,
    )
    return Checked(row.number, out_cells, line, problems)


def report_row(
    row: RowLike, today: date, policy: PasswordSettings
) -> tuple[tuple[str, ...], tuple[Problem, ...]]:
    """`check_row`'s masked cells and problems, without building the Line (`check` needs none).

    The same judgement as check_row: both run `_judge`, only the Line is left out.
    """
    out_cells, problems, _ = _judge(row.cells, today, policy)
    return out_cells, problems


# What _judge found valid, in Line's field order (the password still plain, Secret-wrapped
# by check_row only): a plain tuple is the cheapest way to hand 13 values back.
_Fields = tuple[
    str, str, str, Action, str, str, str, Role, str, str | None, str | None, date | None,
    date | None,
]  # fmt: skip


def _judge(  # noqa: C901, PLR0915 - the hot path, kept flat on purpose
    cells: tuple[str, ...], today: date, policy: PasswordSettings
) -> tuple[tuple[str, ...], tuple[Problem, ...], _Fields | None]:
    """The rules of one row: (report cells, problems, the fields when no ERREUR).

    The repeated cells of a file (FINESS, team, names, dates) are judged once and their
    verdicts looked up afterwards (see _remember); the rest of a valid line costs a few
    dict lookups and C-level string tests.
    """
    if len(cells) != NCOLS:
        width = _overflow(cells)
        if width:
            return _misaligned(cells, msg.extra_cells(width), policy)
        cells = (cells + _EMPTY_ROW)[:NCOLS]
    (ej_t, et_t, team_t, action_t, nom_t, prenom_t, rpps_t, role_t, ident_t, pw_t, email_t,
     debut_t, fin_t) = cells  # fmt: skip

    info = _ROLES.get(role_t) or _ROLES.get(ascii_upper(role_t))
    if info is None:
        offset = _role_offset(cells)
        if offset:
            message = (
                msg.columns_shifted(offset) if offset > 0 else msg.columns_shifted_left(-offset)
            )
            return _misaligned(cells, message, policy)
    action = _ACTIONS.get(action_t) or _ACTIONS.get(ascii_upper(action_t))
    # An S line naming a team and no person asks to delete the team: one clear refusal
    # instead of "Nom obligatoire, Prénom obligatoire…".
    team_only = action is _DELETE and bool(team_t) and not (nom_t or prenom_t or rpps_t or ident_t)

    if today.year != _seen_year[0]:
        _new_year(today.year)
    problems: list[Problem] = []
    ej, found = _EJ_SEEN.get(ej_t) or _remember(_EJ_SEEN, ej_t, _finess(ej_t, _C_EJ))
    if found:
        problems += found
    et, found = _ET_SEEN.get(et_t) or _remember(_ET_SEEN, et_t, _finess(et_t, _C_ET))
    if found:
        problems += found
    team = ""
    if team_only:
        problems.append(Problem.erreur(msg.TEAM_DELETION))
    elif not team_t:
        if info is not None and info.team is _REQUIRED:
            problems.append(Problem.erreur(msg.team_required(info.role)))
    elif info is not None and info.team is _FORBIDDEN:
        problems.append(Problem.erreur(msg.team_forbidden(info.role)))
    else:
        team, found = _TEAM_SEEN.get(team_t) or _remember(
            _TEAM_SEEN, team_t, _free_text(team_t, _C_TEAM, TEAM_MAX)
        )
        if found:
            problems += found
    if action is None:
        problems.append(Problem.erreur(msg.ACTION_UNKNOWN if action_t else msg.required(_C_ACTION)))
    nom = prenom = ""
    if nom_t:
        nom, found = _names(_NOM_SEEN, nom_t, _C_NAME, info is not None)
        if found:
            problems += found
    elif not team_only:
        problems.append(Problem.erreur(msg.required(_C_NAME)))
    if prenom_t:
        prenom, found = _names(_PRENOM_SEEN, prenom_t, _C_PRENOM, info is not None)
        if found:
            problems += found
    elif not team_only:
        problems.append(Problem.erreur(msg.required(_C_PRENOM)))
    rpps = ""
    if rpps_t and info is not None and info.doctor and identifiers.rpps_valid(rpps_t):
        rpps = rpps_t  # a doctor's valid RPPS, the usual case, without _rpps's branches
    elif rpps_t or (info is not None and info.doctor and not team_only):
        rpps = _rpps(rpps_t, info, team_only, problems)
    if info is None and (role_t or not team_only):
        message = msg.role_unknown(_ROLE_CODES) if role_t else msg.required(_C_ROLE)
        problems.append(Problem.erreur(message))
    identifiant = ""
    if ident_t or (info is not None and not info.doctor and not team_only):
        identifiant = _identifiant(ident_t, info, team_only, problems)
    password: str | None = None
    if pw_t:
        if action is _DELETE:
            problems.append(Problem.alerte(msg.PASSWORD_IGNORED_ON_DELETE))
        else:
            # Policy on `C` only: on `M` the store decides whether the password applies.
            password = pw_t
            if action is _CREATE:
                doctor = info.doctor if info is not None else not identifiant
                login = rpps_t if doctor else identifiant
                found = password_problems(pw_t, login=login, nom=nom, policy=policy)
                if found:
                    problems += found
    email = None
    if email_t and not _lost(email_t, _C_EMAIL, problems):
        email, problem = identifiers.read_mssante_email(email_t)
        if problem is not None:
            problems.append(problem)
    debut = fin = None
    if debut_t:
        debut, found = _DEBUT_SEEN.get(debut_t) or _remember(
            _DEBUT_SEEN, debut_t, _date(debut_t, _C_DEBUT, today.year)
        )
        if found:
            problems += found
    if fin_t:
        fin, found = _FIN_SEEN.get(fin_t) or _remember(
            _FIN_SEEN, fin_t, _date(fin_t, _C_FIN, today.year)
        )
        if found:
            problems += found
        if fin is not None and (
            (debut is not None and fin < debut) or (action is _CREATE and fin < today)
        ):
            _check_fin(fin, debut, action, today, problems)

    out_cells = masked_cells(cells, policy)
    if not problems:
        found = ()
    else:
        found = tuple(problems)
        for problem in found:
            if problem.code is _ERREUR:
                return out_cells, found, None
    assert action is not None and info is not None and ej is not None and et is not None
    fields = (ej, et, team, action, nom, prenom, rpps, info.role, identifiant, password, email,
              debut, fin)  # fmt: skip
    return out_cells, found, fields


def password_problems(
    password: str, *, login: str, nom: str, policy: PasswordSettings
) -> tuple[Problem, ...]:
    """The password policy (SPEC §4); the store also calls it for an `M` that sets a password.

    `login` is the account key (Identifiant, or RPPS for a doctor). Messages never quote the
    password. Containment is case- and accent-insensitive, and only checked for a login or a
    Nom of 3 characters or more (a 2-letter Nom would forbid half the dictionary).
    """
    problems: list[Problem] = []
    if len(password) < policy.min_length:
        problems.append(Problem.erreur(msg.password_too_short(policy.min_length)))
    if character_classes(password) < policy.min_classes:
        problems.append(Problem.erreur(msg.password_classes(policy.min_classes)))
    if not password.isprintable() and _CONTROL.search(password):
        problems.append(Problem.erreur(msg.PASSWORD_CONTROL))
    folded = password.lower() if password.isascii() else fold(password)
    if (
        len(login) >= _CONTAINMENT_MIN
        and (login.lower() if login.isascii() else fold(login)) in folded
    ):
        problems.append(Problem.erreur(msg.PASSWORD_CONTAINS_LOGIN))
    if len(nom) >= _CONTAINMENT_MIN and (_FOLDED.get(nom) or _fold_nom(nom)) in folded:
        problems.append(Problem.erreur(msg.PASSWORD_CONTAINS_NOM))
    return tuple(problems)


# ---------------------------------------------------------------------------------------------
# One column (or one column and the role) at a time; each appends its problems.
# ---------------------------------------------------------------------------------------------


# A verdict on one cell: its normalised value and its problems (shared, immutable).
_Verdict = tuple[Any, tuple[Problem, ...]]

# Verdicts of the cells a file repeats (FINESS, team, names, dates), per column since the
# messages name it. Bounded: only cells of up to _SEEN_CELL_MAX characters are kept, and a
# full cache is emptied, so a hostile file cannot make the process hoard its content.
_SEEN_MAX = 4096
_SEEN_CELL_MAX = 100
_EJ_SEEN: dict[str, _Verdict] = {}
_ET_SEEN: dict[str, _Verdict] = {}
_TEAM_SEEN: dict[str, _Verdict] = {}
_NOM_SEEN: dict[str, _Verdict] = {}
_PRENOM_SEEN: dict[str, _Verdict] = {}
_DEBUT_SEEN: dict[str, _Verdict] = {}
_FIN_SEEN: dict[str, _Verdict] = {}
_NO_PROBLEM: tuple[Problem, ...] = ()
# The year the date verdicts were cached for: a two-digit year reads differently in another.
_seen_year = [0]


def _new_year(year: int) -> None:
    _DEBUT_SEEN.clear()
    _FIN_SEEN.clear()
    _seen_year[0] = year


def _remember(seen: dict[str, _Verdict], text: str, verdict: _Verdict) -> _Verdict:
    if len(text) <= _SEEN_CELL_MAX:
        if len(seen) >= _SEEN_MAX:
            seen.clear()
        seen[text] = verdict
    return verdict


def _finess(text: str, column: str) -> _Verdict:
    if not text:
        return None, (Problem.erreur(msg.required(column)),)
    value, problem = identifiers.read_finess(text, column)
    return value, _NO_PROBLEM if problem is None else (problem,)


def _free_text(text: str, column: str, maximum: int, *, lost: bool = True) -> _Verdict:
    """Names as typed, in NFC so that a macOS (decomposed) `é` matches a Windows one.

    `lost=False` leaves out the lost-character check (a cell that may hold a password)."""
    problems: list[Problem] = []
    found = _first_invisible(text)  # before NFC: the position is the one the référent sees
    if found is not None:
        problems.append(_invisible(column, *found))
    if lost:
        _lost(text, column, problems)
    if not text.isascii():
        text = unicodedata.normalize("NFC", text)
    if len(text) > maximum:
        problems.append(Problem.erreur(msg.text_too_long(column, len(text), maximum)))
    return text, tuple(problems)


def _names(seen: dict[str, _Verdict], text: str, column: str, aligned: bool) -> _Verdict:
    """A Nom or Prénom. In a row whose Rôle is unknown the columns may be shifted and the
    cell may hold the password: its characters are not judged (nor named in a message)."""
    if not aligned:
        return _free_text(text, column, NAME_MAX, lost=False)
    return seen.get(text) or _remember(seen, text, _name(text, column))


def _name(text: str, column: str) -> _Verdict:
    """A Nom or Prénom: free text whose characters are those of a name (SPEC 2b)."""
    value, problems = _free_text(text, column, NAME_MAX)
    if problems or _ASCII_NAME.fullmatch(text) is not None:
        return value, problems  # an invisible or lost character is named once, as such
    for i, ch in enumerate(text):
        if not (ch.isalpha() or ch in _NAME_MARKS or unicodedata.category(ch)[0] in "MZ"):
            return value, (Problem.erreur(msg.name_character(column, ch, i + 1)),)
    return value, problems


def _lost(text: str, column: str, problems: list[Problem]) -> bool:
    """Whether a Windows-1252 save turned a character into `?` (or a decoder into `�`)."""
    if _LOST in text or _REPLACEMENT in text:
        problems.append(Problem.erreur(msg.lost_character(column)))
        return True
    return False


def _is_invisible(ch: str) -> bool:
    """A character nobody sees in a cell: not printable (controls, format characters such
    as bidi overrides and zero-width ones, line separators, unassigned and private-use code
    points) but for the spaces, or one of the printable blanks. No-break spaces are spaces."""
    if ch.isprintable():
        return _PRINTABLE_INVISIBLE.match(ch) is not None
    return unicodedata.category(ch) != "Zs"


def _first_invisible(text: str) -> tuple[str, int] | None:
    """The first invisible character of `text` and its position (1-based), or None.

    The usual name (ASCII printable, or printable without the few printable blanks) costs
    one or two C-level calls; only a cell with something unprintable is walked.
    """
    if text.isprintable():
        if text.isascii():
            return None
        m = _PRINTABLE_INVISIBLE.search(text)
        return None if m is None else (m.group(), m.start() + 1)
    for i, ch in enumerate(text):
        if _is_invisible(ch):
            return ch, i + 1
    return None  # only no-break spaces


def _invisible(column: str, ch: str, position: int) -> Problem:
    if ch in _LINE_BREAKS:
        return Problem.erreur(msg.text_line_break(column, ch, position))
    return Problem.erreur(msg.text_invisible(column, ch, position))


def _date(text: str, column: str, this_year: int) -> _Verdict:
    value, problem = identifiers.read_date(text, column, this_year)
    return value, _NO_PROBLEM if problem is None else (problem,)


def _rpps(text: str, info: _RoleInfo | None, team_only: bool, problems: list[Problem]) -> str:
    if not text:
        if info is not None and info.doctor and not team_only:
            problems.append(Problem.erreur(msg.rpps_required(info.role)))
        return ""
    if info is not None and not info.doctor:
        problems.append(Problem.erreur(msg.rpps_forbidden(info.role)))
        return ""
    value, problem = identifiers.read_rpps(text)
    if problem is not None:
        problems.append(problem)
    return value or ""


def _identifiant(
    text: str, info: _RoleInfo | None, team_only: bool, problems: list[Problem]
) -> str:
    """Logins are lower-cased: LDAP's `uid` ignores case, so two spellings are one account."""
    if not text:
        if info is not None and not info.doctor and not team_only:
            problems.append(Problem.erreur(msg.identifiant_required(info.role)))
        return ""
    if info is not None and info.doctor:
        problems.append(Problem.alerte(msg.identifiant_ignored(info.role)))
        return ""
    if _lost(text, _C_IDENTIFIANT, problems):
        return ""
    value = text.lower()
    found = _first_invisible(text)
    if found is not None:
        # Named apart: "invalide" alone would leave the référent looking for what they
        # cannot see. The rest of the value is still judged.
        problems.append(_invisible(_C_IDENTIFIANT, *found))
        value = "".join(ch for ch in value if not _is_invisible(ch))
    if _IDENTIFIANT.fullmatch(value) is None:
        problems.append(Problem.erreur(msg.identifiant_malformed(IDENTIFIANT_MAX)))
    elif len(value) == _RPPS_LENGTH and value.isdigit():  # ASCII here, so [0-9]{11}
        # A doctor's directory entry is uid=<RPPS>: an 11-digit login could collide with it.
        problems.append(Problem.erreur(msg.IDENTIFIANT_LIKE_RPPS))
    return value


def _check_fin(
    fin: date, debut: date | None, action: Action | None, today: date, problems: list[Problem]
) -> None:
    """Both dates are inclusive days, so fin == début and fin == today are fine."""
    if debut is not None and fin < debut:
        problems.append(Problem.erreur(msg.FIN_BEFORE_DEBUT))
    if action is _CREATE and fin < today:
        problems.append(Problem.erreur(msg.fin_past_on_create(identifiers.format_date(fin))))


# ---------------------------------------------------------------------------------------------
# Rows whose columns are not where they should be.
# ---------------------------------------------------------------------------------------------


def _overflow(cells: tuple[str, ...]) -> int:
    """The row's real width when a cell beyond the 13th is filled, else 0."""
    for i in range(len(cells) - 1, NCOLS - 1, -1):
        if cells[i]:
            return i + 1
    return 0


def _role_offset(cells: tuple[str, ...]) -> int:
    """How far right (> 0) or left (< 0) the Rôle sits when a stray `;` pushed it or a
    missing one pulled it (role codes are unmistakable); 0 when it is nowhere near."""
    for offset in _OFFSETS:
        text = cells[ROLE + offset]
        if text and (text in _ROLES or ascii_upper(text) in _ROLES):
            return offset
    return 0


def _misaligned(
    cells: tuple[str, ...], message: str, policy: PasswordSettings
) -> tuple[tuple[str, ...], tuple[Problem, ...], None]:
    """One ERREUR for a shifted row; its 13 first cells as masked (not aligned: every cell
    the password may have moved into)."""
    return Masked(masked_cells(cells, policy)[:NCOLS]), (Problem.erreur(message),), None


# Folded Noms (they repeat across a file), bounded like the verdict caches.
_FOLDED: dict[str, str] = {}


def _fold_nom(nom: str) -> str:
    folded = fold(nom)
    if len(nom) <= _SEEN_CELL_MAX:
        if len(_FOLDED) >= _SEEN_MAX:
            _FOLDED.clear()
        _FOLDED[nom] = folded
    return folded
