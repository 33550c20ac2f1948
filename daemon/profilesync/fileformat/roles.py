"""The roles of SPEC §5: which need an RPPS (doctors) and which need, allow or forbid a team."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, StrEnum


class Need(Enum):
    """Whether a column must be filled, may be filled, or must stay empty for a role."""

    REQUIRED = "required"
    OPTIONAL = "optional"
    FORBIDDEN = "forbidden"


class Role(StrEnum):
    CDC3D = "CDC3D"
    CDC3E = "CDC3E"
    CDC3A = "CDC3A"
    CDC4 = "CDC4"
    CDC1 = "CDC1"
    CDC2 = "CDC2"
    SYNT = "SYNT"
    OEC1 = "OEC1"
    OEC2 = "OEC2"


@dataclass(frozen=True, slots=True)
class RoleSpec:
    role: Role
    label: str
    rpps: Need
    team: Need

    @property
    def doctor(self) -> bool:
        """Doctors' accounts are keyed by RPPS; everyone else's by Identifiant."""
        return self.rpps is Need.REQUIRED


ROLES: dict[Role, RoleSpec] = {
    spec.role: spec
    for spec in (
        RoleSpec(Role.CDC3D, "Médecin déclarant (sans équipe)", Need.REQUIRED, Need.FORBIDDEN),
        RoleSpec(Role.CDC3E, "Médecin déclarant (en équipe)", Need.REQUIRED, Need.REQUIRED),
        RoleSpec(Role.CDC3A, "Gestion d'une équipe (médecin)", Need.REQUIRED, Need.REQUIRED),
        RoleSpec(Role.CDC4, "Gestion d'une équipe (non médecin)", Need.FORBIDDEN, Need.REQUIRED),
        RoleSpec(Role.CDC1, "Collaborateur partie administrative", Need.FORBIDDEN, Need.OPTIONAL),
        RoleSpec(
            Role.CDC2,
            "Collaborateur partie administrative et médicale",
            Need.FORBIDDEN,
            Need.OPTIONAL,
        ),
        RoleSpec(
            Role.SYNT, "Consultation des synthèses (suivi quotidien)", Need.FORBIDDEN, Need.OPTIONAL
        ),
        RoleSpec(
            Role.OEC1,
            "Officier d'état civil (accès volet administratif)",
            Need.FORBIDDEN,
            Need.OPTIONAL,
        ),
        RoleSpec(
            Role.OEC2,
            "Officier d'état civil (accès volet administratif et volet médical)",
            Need.FORBIDDEN,
            Need.OPTIONAL,
        ),
    )
}


def ascii_upper(text: str) -> str:
    """Upper case for ASCII text only: codes are ASCII, and Unicode's upper() turns letters
    that are not S into S (`ſ`, the long s), which would read a stray character as a deletion."""
    return text.upper() if text.isascii() else text


def parse_role(text: str) -> Role | None:
    """Codes are matched case-insensitively (ASCII only); None for an unknown code."""
    try:
        return Role(ascii_upper(text.strip()))
    except ValueError:
        return None
