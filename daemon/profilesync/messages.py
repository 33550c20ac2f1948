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

# Authorization and the submitter (importer.py).
def unknown_submitter(login: str) -> str:
    return (
        f"Fichier refusé : « {login} » n'est pas un référent enregistré. "
        "Demandez à l'exploitant de vous enregistrer (profilesync referent add)."
    )


def et_unknown(et: str) -> str:
    return (
        f"Établissement {et} inconnu de profilesync : demandez à l'exploitant de l'enregistrer."
    )


def ej_mismatch(ej: str, et: str, registered: str) -> str:
    return (
        f"Le Finess EJ {ej} n'est pas l'entité juridique de l'établissement {et} "
        f"(EJ enregistré : {registered})."
    )


def not_referent(et: str) -> str:
    return f"Vous n'êtes pas référent de l'établissement {et} : ligne non appliquée."


# Profiles and accounts (store.py).
PROFILE_EXISTS = (
    "Ce profil existe déjà (même compte, établissement, rôle et équipe) : "
    "utilisez M pour le modifier."
)
PROFILE_MISSING_M = "Ce profil n'existe pas : utilisez C pour le créer."
PROFILE_MISSING_S = "Ce profil n'existe pas ou est déjà supprimé : rien à supprimer."


def password_required(key: str) -> str:
    return f"Mot de passe obligatoire : le compte {key} n'existe pas encore et va être créé."


PASSWORD_IGNORED = "Mot de passe ignoré : celui du compte n'a pas expiré."


def identifiant_taken(key: str) -> str:
    return (
        f"L'identifiant {key} appartient à une autre personne (nom ou prénom différent) : "
        "choisissez un autre identifiant ou corrigez le nom."
    )


def key_is_doctor(key: str) -> str:
    return f"L'identifiant {key} est celui d'un compte de médecin (RPPS) : ligne non appliquée."


def key_is_not_doctor(key: str) -> str:
    return (
        f"Le RPPS {key} est déjà l'identifiant d'un compte non médecin : ligne non appliquée."
    )


DOCTOR_NAMES_IGNORED = (
    "Nom et prénom ignorés : ceux d'un médecin ne changent pas par fichier "
    "(ils diffèrent de ceux du compte)."
)


def fin_before_debut_stored(fin: str, debut: str) -> str:
    return (
        f"La date de fin {fin} précède la date de début {debut} du profil : "
        "ligne non appliquée."
    )


LINE_DATABASE_ERROR = (
    "Erreur interne en enregistrant cette ligne : elle n'a pas été appliquée. "
    "Signalez-la à l'exploitant."
)


# Mass-delete safeguard (importer.py): the report's single row, Ligne 0, until approved.
def awaiting_approval(run_id: int, deletions: dict[str, tuple[int, int]]) -> str:
    parts = ", ".join(
        f"{n} des {active} profils actifs de l'établissement {et}"
        for et, (n, active) in sorted(deletions.items())
    )
    return (
        f"Fichier en attente de validation : il supprimerait {parts}. "
        f"Rien n'a été appliqué ; un exploitant doit l'approuver (profilesync approve {run_id})."
    )


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
