"""A validated import line: the typed result of the stateless rules, input of the store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from profilesync.fileformat.outcome import Problem
from profilesync.fileformat.roles import ROLES, Role
from profilesync.secret import Secret


class Action(StrEnum):
    CREATE = "C"
    MODIFY = "M"
    DELETE = "S"


@dataclass(frozen=True, slots=True)
class Line:
    """One action on one profile, every field already normalised.

    Empty optional cells are "" (team, rpps, identifiant) or None (password, email, dates):
    for `M`, None means "unchanged" (SPEC §4).
    """

    number: int
    ej: str
    et: str
    team: str
    action: Action
    nom: str
    prenom: str
    rpps: str
    role: Role
    identifiant: str
    password: Secret | None
    email: str | None
    debut: date | None
    fin: date | None

    @property
    def doctor(self) -> bool:
        return ROLES[self.role].doctor

    @property
    def account_key(self) -> str:
        """A doctor's account is keyed by RPPS, anyone else's by Identifiant (SPEC §4)."""
        return self.rpps if self.doctor else self.identifiant


@dataclass(frozen=True, slots=True)
class Checked:
    """What the stateless rules say of one row: the Line when it has no ERREUR, and every problem.

    `problems` holds all ALERTE and ERREUR found, in column order; `line` is None exactly
    when one of them is an ERREUR.
    """

    number: int
    cells: tuple[str, ...]
    line: Line | None
    problems: tuple[Problem, ...]
