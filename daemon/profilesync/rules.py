"""The stateless rules: one row of 13 cells -> a typed `Line`, or every problem found on it.

Nothing here reads a database, a clock or a file: `today` and the password policy come in,
so `profilesync check` and the importer judge a line the same way. Every problem of the
line is collected (the référent fixes them all in one go), in column order; the store adds
the rules that need state. It runs once per line of files of 100,000+ lines: lookups are
precomputed at import, and the usual path allocates little (see benchmarks/bench_rules.py).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from functools import lru_cache
from typing import NamedTuple, Protocol

from profilesync import identifiers
from profilesync import messages as msg
from profilesync.columns import (
    ACTION,
    COLUMNS,
    DEBUT,
    EJ,
    ET,
    FIN,
    MASK,
    NCOLS,
    NOM,
    PASSWORD,
    PRENOM,
    ROLE,
    TEAM,
    masked,
)
from profilesync.config import PasswordSettings
from profilesync.lines import Action, Checked, Line
from profilesync.outcome import Code, Problem
from profilesync.roles import ROLES, Need, Role
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
_C_EJ = COLUMNS[EJ]
_C_ET = COLUMNS[ET]
_C_DEBUT = COLUMNS[DEBUT]
_C_FIN = COLUMNS[FIN]

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
_MASKED = (MASK,)
# A Rôle found up to this many columns right of its place means the row is shifted.
_MAX_OFFSET = 3

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_IDENTIFIANT = re.compile(rf"[a-z0-9][a-z0-9._@-]{{0,{IDENTIFIANT_MAX - 1}}}")
_ELEVEN_DIGITS = re.compile(r"[0-9]{11}")
_DIGIT = re.compile(r"\d")
_OTHER = re.compile(r"[\W_]")


def check_row(row: RowLike, today: date, policy: PasswordSettings) -> Checked:
    """Judge one row; `today` (Europe/Paris) decides whether a `C`'s fin is already past."""
    cells = row.cells
    if len(cells) != NCOLS:
        width = _overflow(cells)
        if width:
            return _misaligned(row, msg.extra_cells(width), width - NCOLS)
        cells = (cells + _EMPTY_ROW)[:NCOLS]
    (ej_t, et_t, team_t, action_t, nom_t, prenom_t, rpps_t, role_t, ident_t, pw_t, email_t,
     debut_t, fin_t) = cells  # fmt: skip

    info = _ROLES.get(role_t) or _ROLES.get(role_t.upper())
    if info is None:
        offset = _role_offset(cells)
        if offset:
            return _misaligned(row, msg.columns_shifted(offset), offset)
    action = _ACTIONS.get(action_t) or _ACTIONS.get(action_t.upper())
    # An S line naming a team and no person asks to delete the team: one clear refusal
    # instead of "Nom obligatoire, Prénom obligatoire…".
    team_only = action is _DELETE and bool(team_t) and not (nom_t or prenom_t or rpps_t or ident_t)

    problems: list[Problem] = []
    ej = _finess(ej_t, _C_EJ, problems)
    et = _finess(et_t, _C_ET, problems)
    team = _team(team_t, info, team_only, problems)
    if action is None:
        problems.append(Problem.erreur(msg.ACTION_UNKNOWN if action_t else msg.required(_C_ACTION)))
    nom = _name(nom_t, _C_NAME, team_only, problems)
    prenom = _name(prenom_t, _C_PRENOM, team_only, problems)
    rpps = _rpps(rpps_t, info, team_only, problems)
    if info is None and (role_t or not team_only):
        message = msg.role_unknown(_ROLE_CODES) if role_t else msg.required(_C_ROLE)
        problems.append(Problem.erreur(message))
    identifiant = _identifiant(ident_t, info, team_only, problems)
    password: Secret | None = None
    if pw_t:
        password = _password(pw_t, action, info, rpps_t, identifiant, nom, policy, problems)
    email = _email(email_t, problems) if email_t else None
    debut = _date(debut_t, _C_DEBUT, problems) if debut_t else None
    fin = _date(fin_t, _C_FIN, problems) if fin_t else None
    if fin is not None:
        _check_fin(fin, debut, action, today, problems)

    out_cells = cells[:PASSWORD] + _MASKED + cells[PASSWORD + 1 :] if pw_t else cells
    if problems:
        for problem in problems:
            if problem.code is _ERREUR:
                return Checked(row.number, out_cells, None, tuple(problems))
    assert action is not None and info is not None and ej is not None and et is not None
    line = Line(
        row.number,
        ej,
        et,
        team,
        action,
        nom,
        prenom,
        rpps,
        info.role,
        identifiant,
        password,
        email,
        debut,
        fin,
    )
    return Checked(row.number, out_cells, line, tuple(problems))


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
    classes = (
        (password != password.upper())  # has a lower-case letter
        + (password != password.lower())  # has an upper-case letter
        + (_DIGIT.search(password) is not None)
        + (_OTHER.search(password) is not None)
    )
    if classes < policy.min_classes:
        problems.append(Problem.erreur(msg.password_classes(policy.min_classes)))
    if not password.isprintable() and _CONTROL.search(password):
        problems.append(Problem.erreur(msg.PASSWORD_CONTROL))
    folded = _fold(password)
    if len(login) >= _CONTAINMENT_MIN and _fold(login) in folded:
        problems.append(Problem.erreur(msg.PASSWORD_CONTAINS_LOGIN))
    if (
        len(nom) >= _CONTAINMENT_MIN
        and (_fold_name(nom) if len(nom) <= NAME_MAX else _fold(nom)) in folded
    ):
        problems.append(Problem.erreur(msg.PASSWORD_CONTAINS_NOM))
    return tuple(problems)


# ---------------------------------------------------------------------------------------------
# One column (or one column and the role) at a time; each appends its problems.
# ---------------------------------------------------------------------------------------------


def _finess(text: str, column: str, problems: list[Problem]) -> str | None:
    if not text:
        problems.append(Problem.erreur(msg.required(column)))
        return None
    value, problem = identifiers.read_finess(text, column)
    if problem is not None:
        problems.append(problem)
    return value


def _team(text: str, info: _RoleInfo | None, team_only: bool, problems: list[Problem]) -> str:
    if team_only:
        problems.append(Problem.erreur(msg.TEAM_DELETION))
        return ""
    if not text:
        if info is not None and info.team is _REQUIRED:
            problems.append(Problem.erreur(msg.team_required(info.role)))
        return ""
    if info is not None and info.team is _FORBIDDEN:
        problems.append(Problem.erreur(msg.team_forbidden(info.role)))
        return ""
    return _free_text(text, _C_TEAM, TEAM_MAX, problems)


def _name(text: str, column: str, team_only: bool, problems: list[Problem]) -> str:
    if not text:
        if not team_only:
            problems.append(Problem.erreur(msg.required(column)))
        return ""
    return _free_text(text, column, NAME_MAX, problems)


def _free_text(text: str, column: str, maximum: int, problems: list[Problem]) -> str:
    """Names as typed, in NFC so that a macOS (decomposed) `é` matches a Windows one."""
    if len(text) <= maximum and text.isascii() and text.isprintable():
        return text  # the usual cell: nothing to normalise, nothing to refuse
    if not text.isascii():
        text = unicodedata.normalize("NFC", text)
    if not text.isprintable() and _CONTROL.search(text):
        problems.append(Problem.erreur(msg.text_control(column)))
    if len(text) > maximum:
        problems.append(Problem.erreur(msg.text_too_long(column, len(text), maximum)))
    return text


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
    value = text.lower()
    if _IDENTIFIANT.fullmatch(value) is None:
        problems.append(Problem.erreur(msg.identifiant_malformed(IDENTIFIANT_MAX)))
    elif _ELEVEN_DIGITS.fullmatch(value):
        # A doctor's directory entry is uid=<RPPS>: an 11-digit login could collide with it.
        problems.append(Problem.erreur(msg.IDENTIFIANT_LIKE_RPPS))
    return value


def _password(  # noqa: PLR0917 - private, one call site, hot path
    text: str,
    action: Action | None,
    info: _RoleInfo | None,
    rpps_text: str,
    identifiant: str,
    nom: str,
    policy: PasswordSettings,
    problems: list[Problem],
) -> Secret | None:
    """Policy on `C` only: on `M` the store decides whether the password applies at all."""
    if action is _DELETE:
        problems.append(Problem.alerte(msg.PASSWORD_IGNORED_ON_DELETE))
        return None
    if action is _CREATE:
        doctor = info.doctor if info is not None else not identifiant
        login = rpps_text if doctor else identifiant
        problems += password_problems(text, login=login, nom=nom, policy=policy)
    return Secret(text)


def _email(text: str, problems: list[Problem]) -> str | None:
    value, problem = identifiers.read_mssante_email(text)
    if problem is not None:
        problems.append(problem)
    return value


def _date(text: str, column: str, problems: list[Problem]) -> date | None:
    value, problem = identifiers.read_date(text, column)
    if problem is not None:
        problems.append(problem)
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
    """How far right the Rôle sits when a stray `;` pushed it (role codes are unmistakable)."""
    for offset in range(1, _MAX_OFFSET + 1):
        text = cells[ROLE + offset]
        if text and (text in _ROLES or text.upper() in _ROLES):
            return offset
    return 0


def _misaligned(row: RowLike, message: str, offset: int) -> Checked:
    """One ERREUR for a shifted row; every cell the password may have moved into is masked."""
    out = list(masked(row.cells))
    for i in range(PASSWORD + 1, min(NCOLS, PASSWORD + 1 + offset)):
        if out[i]:
            out[i] = MASK
    return Checked(row.number, tuple(out), None, (Problem.erreur(message),))


def _fold(text: str) -> str:
    """Case- and accent-insensitive form, for "the password contains the Nom"."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


# Surnames repeat from line to line, so their folded form is cached. Never a password's:
# a cache would keep it in memory for the life of the daemon.
_fold_name = lru_cache(maxsize=4096)(_fold)
