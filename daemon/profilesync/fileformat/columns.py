"""The 13 columns of the import file (SPEC §2), shared by the parser, the report and the exports."""

from __future__ import annotations

COLUMNS: tuple[str, ...] = (
    "Finess EJ",
    "Finess ET",
    "Nom de l'équipe",
    "Code action",
    "Nom",
    "Prénom",
    "N° RPPS",
    "Rôle",
    "Identifiant",
    "Mot de passe",
    "Email",
    "Date de début",
    "Date de fin",
)
NCOLS = len(COLUMNS)

# Cell positions, 0-based.
EJ, ET, TEAM, ACTION, NOM, PRENOM, RPPS, ROLE, IDENTIFIANT, PASSWORD, EMAIL, DEBUT, FIN = range(
    NCOLS
)

MASK = "***"  # what reports, line_outcome.cells and archives show instead (see masking.py)
