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

# The names the original guide (the seed) gives the same 13 columns: a file made from it
# has them as its header, which is recognised like the template's (issue 10.5).
SEED_COLUMNS: tuple[str, ...] = (
    "N° Finess EJ",
    "N° Finess ET",
    *COLUMNS[TEAM:EMAIL],
    "Adresse email",
    "Date de début de validité du profil",
    "Date de Fin de validité du profil",
)

MASK = "***"  # what reports, line_outcome.cells and archives show instead (see masking.py)
