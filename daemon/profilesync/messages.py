"""Every French message a référent can read, in one catalogue so the wording stays consistent.

Messages that take values are functions; fixed ones are constants. Tests assert these
exact texts, and `docs/guide-referent.md` explains each one. Sections are owned by the
module that emits them; keep each message short, say what is wrong and how to fix it.
"""

from __future__ import annotations

# ---------------------------------------------------------------------------------------------
# Whole-file rejections (csvfile.py): the report's single row, Ligne 0.
# ---------------------------------------------------------------------------------------------

# (end of whole-file rejections)


# ---------------------------------------------------------------------------------------------
# Stateless rules (identifiers.py, rules.py): one line, no database.
# ---------------------------------------------------------------------------------------------

# (end of stateless rules)


# ---------------------------------------------------------------------------------------------
# Stateful rules (store.py, importer.py): the database, authorization, passwords on M.
# ---------------------------------------------------------------------------------------------

# (end of stateful rules)


# ---------------------------------------------------------------------------------------------
# Inbox and daemon (inbox.py, service.py): files rejected for where or how they were dropped.
# ---------------------------------------------------------------------------------------------

FILE_AT_INBOX_ROOT = (
    "Fichier déposé à la racine du dossier de dépôt : aucune ligne n'a été appliquée. "
    "Déposez-le dans votre dossier personnel (le dossier qui porte votre identifiant)."
)


def unknown_login(login: str) -> str:
    """A folder of the inbox whose name is not a registered référent."""
    return (
        f"Le dossier « {login} » ne correspond à aucun référent enregistré : aucune ligne "
        "n'a été appliquée. Vérifiez le nom du dossier ou demandez à l'équipe informatique "
        "de vous enregistrer comme référent."
    )


FILE_UNREADABLE = (
    "Le fichier n'a pas pu être lu (droits d'accès ou fichier endommagé) : aucune ligne "
    "n'a été appliquée. Enregistrez-le à nouveau puis déposez-le une seconde fois."
)

INTERNAL_ERROR = (
    "Le traitement du fichier a été interrompu par une erreur technique : les lignes déjà "
    "traitées restent appliquées, les autres ne l'ont pas été. L'équipe informatique a été "
    "prévenue et peut relancer le fichier ; ne le déposez pas à nouveau."
)

# (end of inbox and daemon)
