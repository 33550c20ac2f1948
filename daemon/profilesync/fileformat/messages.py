"""Every French message a référent can read, in one catalogue so the wording stays consistent.

Messages that take values are functions; fixed ones are constants. Tests assert these
exact texts, and `docs/guide-referent.md` explains each one. Sections are owned by the
module that emits them; keep each message short, say what is wrong and how to fix it.
"""

from __future__ import annotations

# ---------------------------------------------------------------------------------------------
# Whole-file rejections (fileformat/csvfile.py): the report's single row, Ligne 0.
# ---------------------------------------------------------------------------------------------

_RESAVE = "enregistrez-le au format CSV (séparateur : point-virgule)"


def _mio(size: int, *, up: bool) -> str:
    """A size in Mio with one decimal (French comma); sizes round up, limits down, so that
    a file over its limit never reads as equal to it."""
    tenths = -(-size * 10 // 2**20) if up else size * 10 // 2**20
    whole, frac = divmod(tenths, 10)
    return f"{whole} Mio" if frac == 0 else f"{whole},{frac} Mio"


def _count(n: int) -> str:
    """An integer with French digit grouping (a space every three digits)."""
    return f"{n:,}".replace(",", " ")


def file_too_big(size: int, limit: int) -> str:
    return (
        f"Fichier trop volumineux : {_mio(size, up=True)} pour une limite de "
        f"{_mio(limit, up=False)}. Découpez-le en plusieurs fichiers."
    )


def too_many_rows(count: int, limit: int) -> str:
    return (
        f"Fichier trop long : {_count(count)} lignes pour une limite de {_count(limit)}. "
        "Découpez-le en plusieurs fichiers."
    )


# What a binary file really is, by its first bytes (see csvscan.sniff_binary).
_NOT_TEXT = {
    "xlsx": "un classeur (xlsx/ods)",
    "xls": "un classeur Excel 97-2003 (xls)",
    "pdf": "un document PDF",
    "png": "une image PNG",
    "jpeg": "une image JPEG",
    "gif": "une image GIF",
    "utf16": "un texte Unicode UTF-16 (« Texte Unicode » d'Excel)",
}


def not_text(kind: str) -> str:
    """`kind` is a key of _NOT_TEXT, or anything else for an unrecognised binary file."""
    if kind in _NOT_TEXT:
        return f"Ce fichier n'est pas un fichier CSV mais {_NOT_TEXT[kind]} : {_RESAVE}."
    return (
        "Ce fichier n'est pas un fichier texte (il contient des octets nuls) : "
        f"ouvrez-le dans votre tableur et {_RESAVE}."
    )


def undecodable(byte: int, line: int) -> str:
    return (
        f"Fichier illisible : l'octet 0x{byte:02X} de la ligne {line} n'est un caractère ni en "
        f"UTF-8 ni en Windows-1252. Ouvrez-le dans votre tableur et {_RESAVE}."
    )


def invalid_utf8_with_bom(line: int) -> str:
    return (
        "Fichier illisible : il est marqué comme UTF-8 mais la ligne "
        f"{line} contient des octets qui ne sont pas de l'UTF-8 (encodages mélangés). "
        f"Ouvrez-le dans votre tableur et {_RESAVE}."
    )


_SEPARATORS = {
    ",": "des virgules",
    "\t": "des tabulations",
    "|": "des barres verticales (|)",
}


def wrong_separator(separator: str) -> str:
    """`separator` is the one found instead of `;`: `,`, a tab or `|`."""
    return (
        f"Les colonnes de ce fichier sont séparées par {_SEPARATORS[separator]} et non par des "
        "points-virgules. Dans Excel, « Enregistrer sous » et choisissez le type "
        "« CSV (séparateur : point-virgule) » ; dans LibreOffice, « Enregistrer sous », "
        "type « Texte CSV », cochez « Éditer les paramètres du filtre » et choisissez « ; » "
        "comme séparateur de champ."
    )


SINGLE_COLUMN = (
    "Ce fichier n'a qu'une seule colonne : aucun point-virgule ne sépare les champs. "
    "Le fichier attendu a 13 colonnes séparées par des points-virgules : partez du modèle "
    f"et {_RESAVE}."
)


def unterminated_quote(line: int) -> str:
    return (
        f"Guillemet non refermé : le guillemet ouvert à la ligne {line} n'est jamais refermé, "
        "la suite du fichier serait lue comme une seule cellule. Refermez-le ou supprimez-le."
    )


def cell_too_long(line: int) -> str:
    return (
        f"La cellule entre guillemets qui commence à la ligne {line} est anormalement longue : "
        "un guillemet n'est sans doute pas refermé. Refermez-le ou supprimez-le."
    )


def line_too_long(line: int) -> str:
    return (
        f"La ligne {line} est anormalement longue : ce n'est pas un fichier d'import de "
        f"profils. Vérifiez le fichier déposé ; depuis votre tableur, {_RESAVE}."
    )


def columns_out_of_order(name: str, found: int, expected: int) -> str:
    """Positions are 1-based, as a spreadsheet user counts columns."""
    return (
        f"Les colonnes ne sont pas dans l'ordre attendu : « {name} » est en colonne {found} "
        f"au lieu de {expected}. Remettez les colonnes dans l'ordre du modèle."
    )


FILE_CHANGED = (
    "Le fichier a été modifié pendant sa lecture : déposez-le de nouveau, une fois "
    "complètement enregistré."
)

# (end of whole-file rejections)


# ---------------------------------------------------------------------------------------------
# Stateless rules (fileformat/identifiers.py, rules.py): one line, no database.
# ---------------------------------------------------------------------------------------------

# Messages name the column and never quote a cell: the report shows the cells beside the
# message, and a cell may hold a password that a stray « ; » pushed out of its column.
# Only values the rules computed (a completed FINESS, a date as read) are quoted.


def required(column: str) -> str:
    return f"{column} : obligatoire, la cellule est vide"


_SHIFT_HINT = (
    "sans doute un « ; » dans une valeur sans guillemets ; entourez la valeur de guillemets "
    "ou retirez le « ; » (les autres colonnes n'ont pas été vérifiées)"
)


def extra_cells(count: int) -> str:
    return f"{count} cellules remplies au lieu de 13 au plus : colonnes décalées, {_SHIFT_HINT}"


def columns_shifted(offset: int) -> str:
    places = "d'une colonne" if offset == 1 else f"de {offset} colonnes"
    return f"Colonnes décalées : le Rôle est {places} trop à droite, {_SHIFT_HINT}"


def columns_shifted_left(offset: int) -> str:
    places = "d'une colonne" if offset == 1 else f"de {offset} colonnes"
    return (
        f"Colonnes décalées : le Rôle est {places} trop à gauche, sans doute un « ; » manquant "
        "(une cellule vide supprimée) ; rajoutez-le pour retrouver les 13 colonnes "
        "(les autres colonnes n'ont pas été vérifiées)"
    )


ACTION_UNKNOWN = "Code action : inconnu ; utilisez C (créer), M (modifier) ou S (supprimer)"


def text_too_long(column: str, length: int, maximum: int) -> str:
    return f"{column} : {length} caractères, {maximum} au plus"


# French names of the invisible characters a référent is likely to meet (pasted from a web
# page, a PDF, a word processor); the others are named by their code alone.
_INVISIBLE_NAMES: dict[int, str] = {
    0x0000: "caractère nul",
    0x0009: "tabulation",
    0x000A: "saut de ligne",
    0x000B: "tabulation verticale",
    0x000C: "saut de page",
    0x000D: "retour chariot",
    0x0085: "passage à la ligne",
    0x00AD: "trait d'union conditionnel",
    0x034F: "gluon de graphèmes",
    0x061C: "marque de lettre arabe",
    0x115F: "remplissage hangûl",
    0x1160: "remplissage hangûl",
    0x180E: "séparateur de voyelles mongol",
    0x200B: "espace de largeur nulle",
    0x200C: "antiliant sans chasse",
    0x200D: "liant sans chasse",
    0x200E: "marque gauche à droite",
    0x200F: "marque droite à gauche",
    0x2028: "séparateur de ligne",
    0x2029: "séparateur de paragraphe",
    0x202A: "enchâssement gauche à droite",
    0x202B: "enchâssement droite à gauche",
    0x202C: "fin d'enchâssement",
    0x202D: "forçage gauche à droite",
    0x202E: "inversion du sens d'écriture",
    0x2060: "gluon de mots",
    0x2066: "isolat gauche à droite",
    0x2067: "isolat droite à gauche",
    0x2068: "isolat de sens automatique",
    0x2069: "fin d'isolat",
    0x2800: "caractère braille vide",
    0x3164: "remplissage hangûl",
    0xFE0F: "sélecteur de variante",
    0xFEFF: "espace insécable de largeur nulle",
    0xFFA0: "remplissage hangûl demi-chasse",
}


def _character(ch: str) -> str:
    """`U+202E (inversion du sens d'écriture)`: the code a référent can search for, and a
    name when it is a common one."""
    code = f"U+{ord(ch):04X}"
    name = _INVISIBLE_NAMES.get(ord(ch))
    return f"{code} ({name})" if name else code


def text_line_break(column: str, character: str, position: int) -> str:
    """`position` counts the characters of the value from 1, spaces around it removed."""
    return (
        f"{column} : retour à la ligne {_character(character)} en position {position} ; "
        "saisissez la valeur sur une seule ligne"
    )


def text_invisible(column: str, character: str, position: int) -> str:
    """`position` counts the characters of the value from 1, spaces around it removed."""
    return (
        f"{column} : caractère invisible {_character(character)} en position {position} ; "
        "ressaisissez la valeur au clavier (ce caractère vient souvent d'un copier-coller)"
    )


def finess_malformed(column: str) -> str:
    return (
        f"{column} : n'est pas un n° FINESS (9 caractères : le département, 01 à 95, 2A, 2B, "
        "97 ou 98, puis 7 chiffres)"
    )


def finess_key(column: str) -> str:
    return f"{column} : clé de contrôle fausse, vérifiez le n° FINESS"


def finess_completed(column: str, completed: str) -> str:
    """A certain repair (SPEC 2b): an OK note, counted in the report's summary."""
    return f"{column} complété : {completed}"


def finess_missing_key(column: str) -> str:
    return (
        f"{column} : 8 chiffres, faux même complété d'un 0 initial ; vérifiez le n° FINESS, "
        "sa clé (9e chiffre) manque peut-être"
    )


def scientific_notation(column: str) -> str:
    return (
        f"{column} : en notation scientifique, le tableur a perdu des chiffres ; formatez la "
        "colonne en Texte et saisissez à nouveau le numéro"
    )


RPPS_MALFORMED = "N° RPPS : n'est pas un n° RPPS (11 chiffres)"
RPPS_KEY = "N° RPPS : clé de contrôle fausse, vérifiez le n° RPPS"
RPPS_WITH_8 = "N° RPPS : c'est l'identifiant national (8 suivi du n° RPPS) ; retirez le 8 initial"


def rpps_required(role: str) -> str:
    return f"N° RPPS : obligatoire pour le rôle {role} (médecin)"


def rpps_forbidden(role: str) -> str:
    return f"N° RPPS : doit être vide pour le rôle {role} (non médecin)"


def role_unknown(codes: str) -> str:
    return f"Rôle : inconnu ; codes possibles : {codes}"


def team_required(role: str) -> str:
    return f"Nom de l'équipe : obligatoire pour le rôle {role}"


def team_forbidden(role: str) -> str:
    return f"Nom de l'équipe : doit être vide pour le rôle {role}"


TEAM_DELETION = "Nom de l'équipe : la suppression d'une équipe est impossible par fichier CSV"


def identifiant_required(role: str) -> str:
    return f"Identifiant : obligatoire pour le rôle {role} (non médecin)"


def identifiant_ignored(role: str) -> str:
    return (
        f"Identifiant : ignoré pour le rôle {role} (médecin), "
        "le compte d'un médecin est son n° RPPS"
    )


def identifiant_malformed(maximum: int) -> str:
    return (
        "Identifiant : invalide ; lettres sans accent, chiffres, « . », « _ », « - » ou « @ », "
        f"commençant par une lettre ou un chiffre, {maximum} caractères au plus"
    )


IDENTIFIANT_LIKE_RPPS = (
    "Identifiant : 11 chiffres, la forme d'un n° RPPS, réservée aux comptes des médecins ; "
    "choisissez un autre identifiant"
)


def password_too_short(minimum: int) -> str:
    return f"Mot de passe : trop court, {minimum} caractères au moins"


def password_classes(minimum: int) -> str:
    return (
        f"Mot de passe : mélangez au moins {minimum} types de caractères parmi minuscules, "
        "majuscules, chiffres et autres caractères"
    )


PASSWORD_CONTROL = (
    "Mot de passe : contient un caractère de contrôle (retour à la ligne, tabulation…) "  # noqa: S105
    "impossible à saisir à la connexion"
)
PASSWORD_CONTAINS_LOGIN = (
    "Mot de passe : ne doit pas contenir l'identifiant de connexion "  # noqa: S105
    "(l'Identifiant, ou le n° RPPS pour un médecin)"
)
PASSWORD_CONTAINS_NOM = "Mot de passe : ne doit pas contenir le nom"  # noqa: S105
PASSWORD_IGNORED_ON_DELETE = "Mot de passe : ignoré sur une ligne S (suppression)"  # noqa: S105

EMAIL_MALFORMED = "Email : n'est pas une adresse email valide ; ignoré"
EMAIL_NOT_MSSANTE = (
    "Email : n'est pas une adresse MSSanté (…@mssante.fr ou …@<domaine>.mssante.fr) ; ignoré"
)


def date_malformed(column: str) -> str:
    return f"{column} : n'est pas une date JJ/MM/AAAA"


def date_nonexistent(column: str) -> str:
    return f"{column} : cette date n'existe pas dans le calendrier (JJ/MM/AAAA)"


def date_year_completed(column: str, read_as: str) -> str:
    """A certain repair (SPEC 2b): the two-digit year completed; an OK note."""
    return f"{column.lower()} complétée : {read_as}"


def date_serial(column: str, guess: str) -> str:
    return (
        f"{column} : n° de série de date du tableur (le {guess} ?) ; formatez la colonne en "
        "Texte et saisissez la date en JJ/MM/AAAA"
    )


def date_iso(column: str, read_as: str) -> str:
    """A certain repair (SPEC 2b): an ISO date read; an OK note."""
    return f"{column.lower()} lue au format AAAA-MM-JJ : {read_as}"


# Files that went through a spreadsheet (SPEC 2b): characters lost, names' characters.
def lost_character(column: str) -> str:
    return (
        f"{column} : un caractère a été perdu à l'enregistrement : enregistrez le fichier "
        "en « CSV UTF-8 »"
    )


def name_character(column: str, character: str, position: int) -> str:
    """`position` counts the characters of the value from 1, spaces around it removed."""
    return (
        f"{column} : caractère « {character} » non autorisé en position {position} ; "
        "lettres, espaces, traits d'union, apostrophes et points seulement"
    )


# The report's summary: one sentence per kind of certain repair, however many lines had it.
FINESS_REPAIRED = "le tableur avait supprimé le 0 initial des FINESS"
YEAR_REPAIRED = "le tableur avait écrit des années sur 2 chiffres"
ISO_REPAIRED = "le tableur avait écrit des dates au format AAAA-MM-JJ"


def repaired_lines(lines: int, cause: str) -> str:
    """`cause` is one of the *_REPAIRED constants."""
    counted = "1 ligne réparée" if lines == 1 else f"{lines} lignes réparées"
    return f"{counted} : {cause} — formatez ces colonnes en Texte"


# A login that lost its leading zeros: emitted by store/actions.py (they need the accounts),
# kept here with the other spreadsheet messages.
def identifiant_zeros_guessed(key: str) -> str:
    return (
        f"Identifiant lu comme {key} : le tableur avait supprimé les zéros initiaux ; "
        "formatez la colonne en Texte"
    )


def identifiant_zeros_exists(key: str) -> str:
    return f"{key} existe déjà : le tableur a supprimé les zéros initiaux"


FIN_BEFORE_DEBUT = "Date de fin : antérieure à la date de début"


def fin_past_on_create(fin: str) -> str:
    return (
        f"Date de fin : le {fin} est passé, on ne peut pas créer un profil déjà terminé ; "
        "corrigez la date ou retirez la ligne"
    )


# (end of stateless rules)


# ---------------------------------------------------------------------------------------------
# Stateful rules (store/actions.py, store/runner.py): database, authorization, passwords on M.
# ---------------------------------------------------------------------------------------------


# Authorization: the submitter (store/runner.py), each line's establishment (store/actions.py).
def unknown_submitter(login: str) -> str:
    return (
        f"Fichier refusé : « {login} » n'est pas un référent enregistré. "
        "Demandez à l'exploitant de vous enregistrer (profilesync referent add)."
    )


def et_unknown(et: str) -> str:
    return f"Établissement {et} inconnu de profilesync : demandez à l'exploitant de l'enregistrer."


def ej_mismatch(ej: str, et: str, registered: str) -> str:
    return (
        f"Le Finess EJ {ej} n'est pas l'entité juridique de l'établissement {et} "
        f"(EJ enregistré : {registered})."
    )


def not_referent(et: str) -> str:
    return f"Vous n'êtes pas référent de l'établissement {et} : ligne non appliquée."


# Profiles and accounts (store/actions.py).
PROFILE_EXISTS = (
    "Ce profil existe déjà (même compte, établissement, rôle et équipe) : "
    "utilisez M pour le modifier."
)
PROFILE_MISSING_M = "Ce profil n'existe pas : utilisez C pour le créer."
PROFILE_MISSING_S = "Ce profil n'existe pas ou est déjà supprimé : rien à supprimer."


def password_required(key: str) -> str:
    return (
        f"Mot de passe obligatoire : le compte {key} n'existe pas encore, "
        "il en faut un pour le créer."
    )


PASSWORD_IGNORED = "Mot de passe ignoré : celui du compte n'a pas expiré."  # noqa: S105


def identifiant_taken(key: str) -> str:
    # The same words whether the account is elsewhere, another person's or another kind:
    # nothing is learnt about the accounts of other establishments (SPEC §4).
    return (
        f"Identifiant déjà utilisé : {key} est le compte d'une autre personne ou d'un autre "
        "établissement ; choisissez un autre identifiant (ou vérifiez le nom et le prénom)."
    )


# Account-level data of an account that another establishment relies on (SPEC §4).
_SHARED = "compte partagé avec un autre établissement, seul l'administrateur peut le modifier"
NAMES_SHARED = f"Nom et prénom ignorés : {_SHARED}."
EMAIL_SHARED = f"Email ignoré : {_SHARED}."
PASSWORD_SHARED = f"Mot de passe ignoré : {_SHARED}."


def key_is_doctor(key: str) -> str:
    return f"L'identifiant {key} est celui d'un compte de médecin (RPPS) : ligne non appliquée."


def key_is_not_doctor(key: str) -> str:
    return f"Le RPPS {key} est déjà l'identifiant d'un compte non médecin : ligne non appliquée."


DOCTOR_NAMES_IGNORED = (
    "Nom et prénom ignorés : ceux d'un médecin ne changent pas par fichier "
    "(ils diffèrent de ceux du compte)."
)


def fin_before_debut_stored(fin: str, debut: str) -> str:
    return f"La date de fin {fin} précède la date de début {debut} du profil : ligne non appliquée."


# A line the database refused to write (store/runner.py).
LINE_DATABASE_ERROR = (
    "Erreur interne en enregistrant cette ligne : elle n'a pas été appliquée. "
    "Signalez-la à l'exploitant."
)


# Mass-delete safeguard (store/runner.py): the report's single row, Ligne 0, until approved.
def deletion_share(deletions: int, active: int, et: str) -> str:
    return f"{deletions} des {active} profils actifs de l'établissement {et}"


def awaiting_approval(run_id: int, shares: str) -> str:
    """`shares`: `deletion_share(...)` of each establishment, joined by ", "."""
    return (
        f"Fichier en attente de validation : il supprimerait {shares}. "
        f"Rien n'a été appliqué ; un exploitant doit l'approuver (profilesync approve {run_id})."
    )


# (end of stateful rules)


# ---------------------------------------------------------------------------------------------
# Inbox and daemon (service/daemon.py): files rejected for where or how they were dropped.
# ---------------------------------------------------------------------------------------------

FILE_AT_INBOX_ROOT = (
    "Fichier déposé à la racine du dossier de dépôt : aucune ligne n'a été appliquée. "
    "Déposez-le dans votre dossier personnel (le dossier qui porte votre identifiant)."
)


FILE_UNREADABLE = (
    "Le fichier n'a pas pu être lu (droits d'accès ou fichier endommagé) : aucune ligne "
    "n'a été appliquée. Enregistrez-le à nouveau puis déposez-le une seconde fois."
)

# What the inbox holds that is no CSV file (service/strays.py): set aside, never read.
IGNORED_EXCEL = (
    "Fichier ignoré : c'est un classeur Excel, pas un fichier CSV. Dans Excel, « Enregistrer "
    "sous » > « CSV (séparateur : point-virgule) (*.csv) », puis déposez le fichier .csv."
)
IGNORED_CALC = (
    "Fichier ignoré : c'est un classeur LibreOffice, pas un fichier CSV. Dans LibreOffice, "
    "« Enregistrer sous » > « Texte CSV (.csv) », séparateur « ; », puis déposez le fichier "
    ".csv."
)
IGNORED_NOT_CSV = (
    "Fichier ignoré : seuls les fichiers dont le nom finit par .csv sont lus. S'il s'agit "
    "bien d'un fichier CSV (séparateur « ; »), renommez-le en .csv et déposez-le à nouveau."
)
IGNORED_LINK = (
    "Fichier ignoré : c'est un raccourci (lien), pas un fichier. Déposez le fichier lui-même."
)
IGNORED_FOLDER = (
    "Dossier ignoré : son nom finit par .csv mais c'est un dossier. Déposez le fichier CSV "
    "directement dans votre dossier, sans sous-dossier."
)
IGNORED_SPECIAL = (
    "Fichier ignoré : ce n'est pas un fichier ordinaire (canal ou périphérique). Déposez un "
    "fichier CSV enregistré depuis votre tableur."
)


INTERNAL_ERROR = (
    "Le traitement du fichier a été interrompu par une erreur technique : les lignes déjà "
    "traitées restent appliquées, les autres ne l'ont pas été. L'équipe informatique a été "
    "prévenue et peut relancer le fichier ; ne le déposez pas à nouveau."
)

# (end of inbox and daemon)


# ---------------------------------------------------------------------------------------------
# The référent's own folder (issue 10): exports on demand, held and refused files, emails.
# ---------------------------------------------------------------------------------------------


def export_refused(et: str) -> str:
    """The same words for an unknown ET and another's: nothing is learnt about either."""
    return (
        f"Demande d'export refusée : vous n'êtes pas référent de l'établissement « {et} ». "
        "Aucun export n'a été fait. Vérifiez le n° Finess ET dans le nom du fichier "
        "(export-<Finess ET>), ou déposez un fichier nommé simplement « export » pour "
        "recevoir les exports de tous vos établissements."
    )


EXPORT_NO_ESTABLISHMENT = (
    "Demande d'export refusée : aucun établissement ne vous est attribué. Demandez à votre "
    "équipe informatique de vous enregistrer comme référent de votre établissement."
)
EXPORT_NOT_A_REFERENT = (
    "Demande d'export refusée : ce dossier n'est pas celui d'un référent. Déposez la demande "
    "dans votre dossier personnel (le dossier qui porte votre identifiant)."
)
EXPORT_CONTENT_IGNORED = (
    "Ce fichier porte le nom d'une demande d'export : il a été traité comme tel et son "
    "contenu n'a pas été lu. Pour importer des lignes, donnez au fichier un autre nom "
    "(par exemple profils.csv) et déposez-le à nouveau."
)
# The code of the Ligne 0 row of a held file's report: not an ERREUR, nothing went wrong.
HELD_CODE = "ATTENTE"


def refused(reason: str) -> str:
    """The report of a held file that the IT team refused (`profilesync reject`)."""
    return (
        f"Fichier refusé par votre équipe informatique : {reason}. Aucune ligne n'a été "
        "appliquée. Corrigez le fichier si besoin, puis déposez-le à nouveau."
    )


# (end of the référent's own folder)


# --- undo of a run (store/undo.py) ---------------------------------------------------------
# The report of an undo shows the lines of the undone file, each with what was undone.

UNDO_PROFILE_REMOVED = "Annulé : le profil créé par l'import a été retiré"
UNDO_PROFILE_RESTORED = "Annulé : le profil supprimé par l'import a été rétabli avec ses dates"
UNDO_PROFILE_REVERTED = "Annulé : les dates du profil ont été rétablies"
UNDO_ACCOUNT_REVERTED = "Annulé : nom, prénom ou email du compte rétablis"
UNDO_ACCOUNT_REMOVED = "Annulé : le compte créé par l'import a été retiré"
UNDO_ACCOUNT_KEPT = (
    "Compte conservé : il a d'autres profils (le compte créé par l'import reste en place)"
)
UNDO_MDP_KEPT = (
    "Mot de passe non rétabli : un mot de passe n'est jamais restauré, le compte garde "
    "celui fixé par l'import"
)


UNDO_PROFILE = "le profil"
UNDO_ACCOUNT = "le compte"


def undo_refused(record: str, since: str) -> str:
    """`record`: UNDO_PROFILE or UNDO_ACCOUNT; `since`: an UNDO_SINCE_* or `undo_since_run`."""
    return f"Non annulé : {record} a été modifié depuis l'import ({since})"


def undo_unknown_change(action: str) -> str:
    return f"Non annulé : la modification « {action} » ne peut pas être annulée"


# Who changed a record after the undone import, in the words of the report (the operator's
# Unix name is not a référent's business).
UNDO_SINCE_VALIDITY = "changement d'état à sa date de début ou de fin"
UNDO_SINCE_OPERATOR = "par l'exploitant"


def undo_since_run(run_id: int) -> str:
    return f"import {run_id}"
