"""check_row: every stateless rule of SPEC §2, §3, §5, with the exact code and message."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date

import pytest
from stdnum import luhn

from profilesync.config import PasswordSettings
from profilesync.fileformat import messages as msg
from profilesync.fileformat.lines import Action, Checked, Line
from profilesync.fileformat.outcome import Code, Problem
from profilesync.fileformat.roles import Role, parse_role
from profilesync.fileformat.rules import check_row, password_problems
from profilesync.secret import Secret


@dataclass(frozen=True)
class Row:
    """Stands in for csvfile.Row: the rules only need `number` and `cells`."""

    number: int
    cells: tuple[str, ...]


TODAY = date(2026, 11, 26)
POLICY = PasswordSettings()
RPPS = "10100473148"
PASSWORD = "Tr3s-Secret-Pass!"

_ORDER = [
    "ej",
    "et",
    "team",
    "action",
    "nom",
    "prenom",
    "rpps",
    "role",
    "identifiant",
    "password",
    "email",
    "debut",
    "fin",
]

DOCTOR = {
    "ej": "750712184",
    "et": "750100125",
    "team": "Urgences adultes",
    "action": "C",
    "nom": "Dupont",
    "prenom": "Jean",
    "rpps": RPPS,
    "role": "CDC3E",
    "identifiant": "",
    "password": PASSWORD,
    "email": "jean.dupont@aphp.mssante.fr",
    "debut": "01/01/2026",
    "fin": "",
}
NON_DOCTOR = {
    "ej": "750712184",
    "et": "750100125",
    "team": "",
    "action": "C",
    "nom": "Garçon",
    "prenom": "Cécile",
    "rpps": "",
    "role": "CDC1",
    "identifiant": "cgarcon",
    "password": "Un-Mot2Passe-Long",
    "email": "",
    "debut": "",
    "fin": "",
}


def cells_of(base: dict[str, str], /, **changes: str) -> tuple[str, ...]:
    values = {**base, **changes}
    return tuple(values[k] for k in _ORDER)


def check(
    base: dict[str, str] = DOCTOR,
    *,
    extra: tuple[str, ...] = (),
    today: date = TODAY,
    policy: PasswordSettings = POLICY,
    **changes: str,
) -> Checked:
    return check_row(Row(7, cells_of(base, **changes) + extra), today, policy)


def check_with(base: dict[str, str], changes: dict[str, str]) -> Checked:
    """`check` for changes held in a dict (parametrized columns)."""
    return check_row(Row(7, cells_of(base, **changes)), TODAY, POLICY)


def found(checked: Checked) -> list[tuple[Code, str]]:
    return [(p.code, p.message) for p in checked.problems]


def E(message: str) -> tuple[Code, str]:
    return (Code.ERREUR, message)


def N(message: str) -> tuple[Code, str]:
    return (Code.OK, message)


def A(message: str) -> tuple[Code, str]:
    return (Code.ALERTE, message)


def rpps_number(n: int) -> str:
    body = f"10{n:08d}"
    return body + luhn.calc_check_digit(body)


# ---------------------------------------------------------------------------------------------
# Valid lines become typed Lines
# ---------------------------------------------------------------------------------------------


def test_valid_doctor_line_is_normalised_into_a_line() -> None:
    checked = check()
    assert checked.problems == ()
    assert checked.number == 7
    assert checked.line == Line(
        number=7,
        ej="750712184",
        et="750100125",
        team="Urgences adultes",
        action=Action.CREATE,
        nom="Dupont",
        prenom="Jean",
        rpps=RPPS,
        role=Role.CDC3E,
        identifiant="",
        password=Secret(PASSWORD),
        email="jean.dupont@aphp.mssante.fr",
        debut=date(2026, 1, 1),
        fin=None,
    )
    assert checked.cells == cells_of(DOCTOR, password="***")


def test_valid_non_doctor_line_is_keyed_by_identifiant() -> None:
    checked = check(NON_DOCTOR, action="M", fin="31/12/2027")
    assert checked.problems == ()
    line = checked.line
    assert line is not None
    assert (line.action, line.role, line.rpps, line.identifiant, line.team) == (
        Action.MODIFY,
        Role.CDC1,
        "",
        "cgarcon",
        "",
    )
    assert (line.email, line.debut, line.fin) == (None, None, date(2027, 12, 31))
    assert line.account_key == "cgarcon"


def test_action_and_role_codes_are_case_insensitive() -> None:
    checked = check(action="s", role="cdc3e", password="")
    assert checked.problems == ()
    assert checked.line is not None
    assert (checked.line.action, checked.line.role) == (Action.DELETE, Role.CDC3E)
    assert check(action="m", role="Cdc3E").line is not None


def test_a_row_without_a_password_keeps_its_cells_as_they_are() -> None:
    checked = check(NON_DOCTOR, action="M", password="")
    assert checked.cells == cells_of(NON_DOCTOR, action="M", password="")
    assert checked.line is not None
    assert checked.line.password is None


def test_a_short_row_is_read_as_if_padded() -> None:
    short = cells_of(NON_DOCTOR)[:10]
    checked = check_row(Row(3, short), TODAY, POLICY)
    assert checked.problems == ()
    assert checked.cells == (*short[:9], "***", "", "", "")


def test_empty_cells_beyond_the_13th_are_fine() -> None:
    checked = check(extra=("", ""))
    assert checked.problems == ()
    assert checked.cells == cells_of(DOCTOR, password="***")


# ---------------------------------------------------------------------------------------------
# Required columns, every problem reported, in column order
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "column"),
    [
        ("ej", "Finess EJ"),
        ("et", "Finess ET"),
        ("action", "Code action"),
        ("nom", "Nom"),
        ("prenom", "Prénom"),
        ("role", "Rôle"),
    ],
)
def test_required_columns(field: str, column: str) -> None:
    checked = check_with(NON_DOCTOR, {field: ""})
    assert found(checked) == [E(f"{column} : obligatoire, la cellule est vide")]
    assert checked.line is None


def test_every_problem_of_a_line_is_reported_in_column_order() -> None:
    checked = check(
        ej="75071218",
        et="10780062",
        team="",
        action="X",
        nom="",
        rpps="1,00001E+10",
        identifiant="jdupont",
        password="court",
        email="jean@gmail.com",
        debut="45292",
        fin="2020-01-01",
    )
    assert found(checked) == [
        E(msg.finess_missing_key("Finess EJ")),
        N("Finess ET complété : 010780062"),
        E("Nom de l'équipe : obligatoire pour le rôle CDC3E"),
        E("Code action : inconnu ; utilisez C (créer), M (modifier) ou S (supprimer)"),
        E("Nom : obligatoire, la cellule est vide"),
        E(msg.scientific_notation("N° RPPS")),
        A(
            "Identifiant : ignoré pour le rôle CDC3E (médecin), le compte d'un médecin est son "
            "n° RPPS"
        ),
        A(
            "Email : n'est pas une adresse MSSanté (…@mssante.fr ou …@<domaine>.mssante.fr) ; "
            "ignoré"
        ),
        E(msg.date_serial("Date de début", "01/01/2024")),
        N("date de fin lue au format AAAA-MM-JJ : 01/01/2020"),
    ]
    assert checked.line is None


def test_alerte_alone_keeps_the_line() -> None:
    checked = check(ej="10780062", et="10780062", email="x@gmail.com")
    assert [c for c, _ in found(checked)] == [Code.OK, Code.OK, Code.ALERTE]
    assert checked.line is not None
    assert (checked.line.ej, checked.line.et, checked.line.email) == (
        "010780062",
        "010780062",
        None,
    )


# ---------------------------------------------------------------------------------------------
# Shifted rows: a stray `;`
# ---------------------------------------------------------------------------------------------


def test_a_filled_cell_beyond_the_13th_is_one_erreur_and_nothing_else() -> None:
    checked = check(extra=("", "oops"))
    assert found(checked) == [
        E(
            "Colonnes décalées : une cellule est remplie en colonne 15, au-delà des 13 "
            "colonnes du modèle, sans doute un « ; » dans une valeur sans guillemets ; "
            "entourez la valeur de guillemets ou retirez le « ; » (les autres colonnes n'ont "
            "pas été vérifiées)"
        )
    ]
    assert checked.line is None
    assert len(checked.cells) == 13


def test_a_team_name_split_by_a_stray_semicolon_is_reported_as_shifted_columns() -> None:
    # libreoffice-utf8.csv, line 2: « Réanimation; médicale » written without quotes.
    line = (
        "750712184;750100125;Réanimation; médicale;C;Martin;Paul;;CDC2;pmartin;"
        "Paul-Martin-Pass-7;;;"
    )
    cells = tuple(c.strip() for c in line.split(";"))
    assert len(cells) == 14
    checked = check_row(Row(2, cells), TODAY, POLICY)
    assert found(checked) == [
        E(
            "Colonnes décalées : le Rôle est d'une colonne trop à droite, sans doute un « ; » "
            "dans une valeur sans guillemets ; entourez la valeur de guillemets ou retirez le "
            "« ; » (les autres colonnes n'ont pas été vérifiées)"
        )
    ]
    # The password moved into the Email column: it is masked there too.
    assert "Paul-Martin-Pass-7" not in checked.cells
    assert checked.cells[9:11] == ("***", "***")


def test_a_name_split_in_two_shifts_the_role_by_more() -> None:
    cells = cells_of(NON_DOCTOR, prenom="Cé")
    shifted = (*cells[:5], "Cé", "ci", "le", *cells[6:])  # « Cé;ci;le »: 2 cells too many
    checked = check_row(Row(4, shifted), TODAY, POLICY)
    assert found(checked) == [E(msg.columns_shifted(2))]
    assert "de 2 colonnes trop à droite" in msg.columns_shifted(2)
    # The password sits in column 12 now; every cell it may have reached is masked.
    assert shifted[11] == "Un-Mot2Passe-Long"
    assert checked.cells[9:12] == ("***", "***", "***")


def test_a_shifted_row_with_a_filled_15th_cell_is_reported_by_width() -> None:
    cells = cells_of(NON_DOCTOR, prenom="Cé", fin="31/12/2027")
    shifted = (*cells[:5], "Cé", "ci", "le", *cells[6:])
    assert len(shifted) == 15
    checked = check_row(Row(4, shifted), TODAY, POLICY)
    assert found(checked) == [E(msg.extra_cells(15))]
    assert "Un-Mot2Passe-Long" not in checked.cells


def test_an_unknown_role_without_a_role_further_right_is_just_unknown() -> None:
    checked = check(NON_DOCTOR, role="CDC9")
    assert found(checked) == [
        E(
            "Rôle : inconnu ; codes possibles : CDC3D, CDC3E, CDC3A, CDC4, CDC1, CDC2, SYNT, "
            "OEC1, OEC2"
        )
    ]


# ---------------------------------------------------------------------------------------------
# Code action, Nom, Prénom, team name
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["X", "Création", "CM", "D"])
def test_unknown_action(action: str) -> None:
    assert found(check(NON_DOCTOR, action=action)) == [E(msg.ACTION_UNKNOWN)]


@pytest.mark.parametrize(("field", "column"), [("nom", "Nom"), ("prenom", "Prénom")])
def test_names_are_1_to_100_characters(field: str, column: str) -> None:
    assert check_with(NON_DOCTOR, {field: "x" * 100}).problems == ()
    assert found(check_with(NON_DOCTOR, {field: "x" * 101})) == [
        E(f"{column} : 101 caractères, 100 au plus")
    ]


_RETYPE = "ressaisissez la valeur au clavier (ce caractère vient souvent d'un copier-coller)"
_ONE_LINE = "saisissez la valeur sur une seule ligne"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Jean\nPierre", f"retour à la ligne U+000A (saut de ligne) en position 5 ; {_ONE_LINE}"),
        (
            "Jean\r\nPierre",
            f"retour à la ligne U+000D (retour chariot) en position 5 ; {_ONE_LINE}",
        ),
        (
            "Jean\u2028Pierre",
            f"retour à la ligne U+2028 (séparateur de ligne) en position 5 ; {_ONE_LINE}",
        ),
        ("Jean\tPierre", f"caractère invisible U+0009 (tabulation) en position 5 ; {_RETYPE}"),
        ("A\x00B", f"caractère invisible U+0000 (caractère nul) en position 2 ; {_RETYPE}"),
        ("A\x07B", f"caractère invisible U+0007 en position 2 ; {_RETYPE}"),
    ],
)
def test_a_line_break_or_control_character_in_a_name_is_refused_naming_it(
    name: str, message: str
) -> None:
    # Supersedes the former single « contient un retour à la ligne ou un caractère de
    # contrôle » message: the character and its place are named (more in test_invisible.py).
    assert found(check(NON_DOCTOR, prenom=name)) == [E(f"Prénom : {message}")]


def test_names_are_stored_in_nfc() -> None:
    decomposed = unicodedata.normalize("NFD", "Lefèvre")
    assert decomposed != "Lefèvre"
    line = check(NON_DOCTOR, nom=decomposed, team=unicodedata.normalize("NFD", "Réa")).line
    assert line is not None
    assert (line.nom, line.team) == ("Lefèvre", "Réa")


def test_team_name_is_at_most_200_characters() -> None:
    assert check(team="x" * 200).problems == ()
    assert found(check(team="x" * 201)) == [E("Nom de l'équipe : 201 caractères, 200 au plus")]


# ---------------------------------------------------------------------------------------------
# Roles × RPPS × team × Identifiant (SPEC §5), written out from the spec's table
# ---------------------------------------------------------------------------------------------

# role: (doctor, team) with team in required / forbidden / optional
SPEC_TABLE = {
    "CDC3D": (True, "forbidden"),
    "CDC3E": (True, "required"),
    "CDC3A": (True, "required"),
    "CDC4": (False, "required"),
    "CDC1": (False, "optional"),
    "CDC2": (False, "optional"),
    "SYNT": (False, "optional"),
    "OEC1": (False, "optional"),
    "OEC2": (False, "optional"),
}


@pytest.mark.parametrize("role", SPEC_TABLE)
@pytest.mark.parametrize("with_team", [True, False])
def test_role_team_matrix(role: str, with_team: bool) -> None:
    doctor, need = SPEC_TABLE[role]
    base = DOCTOR if doctor else NON_DOCTOR
    checked = check(base, role=role, team="Équipe A" if with_team else "")
    expected = []
    if need == "required" and not with_team:
        expected = [E(f"Nom de l'équipe : obligatoire pour le rôle {role}")]
    if need == "forbidden" and with_team:
        expected = [E(f"Nom de l'équipe : doit être vide pour le rôle {role}")]
    assert found(checked) == expected
    if not expected:
        assert checked.line is not None
        assert checked.line.team == ("Équipe A" if with_team else "")


@pytest.mark.parametrize("role", [r for r, (doctor, _) in SPEC_TABLE.items() if doctor])
def test_doctor_roles_need_an_rpps_and_ignore_an_identifiant(role: str) -> None:
    team = "" if role == "CDC3D" else "Urgences"
    assert found(check(role=role, team=team, rpps="")) == [
        E(f"N° RPPS : obligatoire pour le rôle {role} (médecin)")
    ]
    checked = check(role=role, team=team, identifiant="jdupont")
    assert found(checked) == [
        A(
            f"Identifiant : ignoré pour le rôle {role} (médecin), le compte d'un médecin est son "
            "n° RPPS"
        )
    ]
    assert checked.line is not None
    assert (checked.line.identifiant, checked.line.account_key) == ("", RPPS)


@pytest.mark.parametrize("role", [r for r, (doctor, _) in SPEC_TABLE.items() if not doctor])
def test_other_roles_need_an_identifiant_and_no_rpps(role: str) -> None:
    team = "Équipe" if role == "CDC4" else ""
    assert found(check(NON_DOCTOR, role=role, team=team, rpps=RPPS)) == [
        E(f"N° RPPS : doit être vide pour le rôle {role} (non médecin)")
    ]
    assert found(check(NON_DOCTOR, role=role, team=team, identifiant="")) == [
        E(f"Identifiant : obligatoire pour le rôle {role} (non médecin)")
    ]


def test_an_rpps_with_an_unknown_role_is_still_checked() -> None:
    checked = check(role="", rpps="10001234567")
    assert found(checked) == [
        E("N° RPPS : clé de contrôle fausse, vérifiez le n° RPPS"),
        E("Rôle : obligatoire, la cellule est vide"),
    ]


@pytest.mark.parametrize(
    ("rpps", "message"),
    [
        ("1,00001E+10", msg.scientific_notation("N° RPPS")),
        ("1.01005E+10", msg.scientific_notation("N° RPPS")),
        ("8" + RPPS, msg.RPPS_WITH_8),
        ("10001234567", msg.RPPS_KEY),
        ("1010047314", msg.RPPS_MALFORMED),
    ],
)
def test_bad_rpps_of_a_doctor(rpps: str, message: str) -> None:
    assert found(check(rpps=rpps)) == [E(message)]


def test_generated_rpps_numbers_pass() -> None:
    for n in (1, 42, 99_999_999):
        line = check(rpps=rpps_number(n)).line
        assert line is not None
        assert line.rpps == rpps_number(n)


# ---------------------------------------------------------------------------------------------
# Identifiant
# ---------------------------------------------------------------------------------------------


def test_identifiant_is_lower_cased() -> None:
    line = check(NON_DOCTOR, identifiant="CGarcon").line
    assert line is not None
    assert line.identifiant == "cgarcon"


@pytest.mark.parametrize(
    "login", ["j.dupont", "j_dupont-2", "jean.dupont@chu-exemple.fr", "123456"]
)
def test_usual_logins_are_accepted(login: str) -> None:
    assert check(NON_DOCTOR, identifiant=login).problems == ()


IDENTIFIANT_MALFORMED = (
    "Identifiant : invalide ; lettres sans accent, chiffres, « . », « _ », « - » ou « @ », "
    "commençant par une lettre ou un chiffre, 100 caractères au plus"
)


@pytest.mark.parametrize(
    "login", ["hélène", "jean dupont", ".jdupont", "j/dupont", "x" * 101, "j;d"]
)
def test_malformed_identifiant(login: str) -> None:
    assert found(check(NON_DOCTOR, identifiant=login)) == [E(IDENTIFIANT_MALFORMED)]


def test_an_identifiant_shaped_like_an_rpps_is_refused() -> None:
    assert found(check(NON_DOCTOR, identifiant="12345678901")) == [
        E(
            "Identifiant : 11 chiffres, la forme d'un n° RPPS, réservée aux comptes des "
            "médecins ; choisissez un autre identifiant"
        )
    ]


# ---------------------------------------------------------------------------------------------
# Passwords
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "expected"),
    [
        ("Ab1-Ab1-Ab1", ["Mot de passe : trop court, 12 caractères au moins"]),
        (
            "abcdefghijkl",
            [
                "Mot de passe : mélangez au moins 3 types de caractères parmi minuscules, "
                "majuscules, chiffres et autres caractères"
            ],
        ),
        ("abcdefghij12", [msg.password_classes(3)]),
        ("abcdefghijK1", []),
        ("abcdefghijk!1", []),
        ("ABCDEFGHIJK!1", []),
        ("ÉCOLE-ÉTÉ-2026", []),  # accented capitals, digits, other
        ("Tab\tin-a-Pass1", [msg.PASSWORD_CONTROL]),
    ],
)
def test_password_policy_on_create(password: str, expected: list[str]) -> None:
    assert found(check(NON_DOCTOR, password=password)) == [E(m) for m in expected]


def test_password_may_not_contain_the_identifiant_whatever_its_case() -> None:
    assert found(check(NON_DOCTOR, nom="Martin", password="xx-CGARCON-2026")) == [
        E(
            "Mot de passe : ne doit pas contenir l'identifiant de connexion (l'Identifiant, ou "
            "le n° RPPS pour un médecin)"
        )
    ]


def test_a_doctors_login_is_the_rpps() -> None:
    assert found(check(password=f"Pass-{RPPS}")) == [E(msg.PASSWORD_CONTAINS_LOGIN)]


def test_password_may_not_contain_the_nom_ignoring_case_and_accents() -> None:
    assert found(check(NON_DOCTOR, nom="Lefèvre", password="Ma-LEFEVRE-2026")) == [
        E("Mot de passe : ne doit pas contenir le nom")
    ]
    assert found(check(NON_DOCTOR, nom="LEFEVRE", password="Ma-lefèvre-2026")) == [
        E(msg.PASSWORD_CONTAINS_NOM)
    ]


def test_a_nom_or_login_of_two_letters_is_not_looked_for() -> None:
    assert check(NON_DOCTOR, nom="Li", identifiant="li", password="Joli-Lilas-2026").problems == ()


def test_every_password_problem_is_reported() -> None:
    assert found(check(NON_DOCTOR, identifiant="abc", nom="Roux", password="abcroux")) == [
        E(msg.password_too_short(12)),
        E(msg.password_classes(3)),
        E(msg.PASSWORD_CONTAINS_LOGIN),
        E(msg.PASSWORD_CONTAINS_NOM),
    ]


def test_password_policy_follows_the_settings() -> None:
    strict = PasswordSettings(min_length=16, min_classes=4)
    assert found(check(NON_DOCTOR, policy=strict, password="Un-Mot2Passe-Long")) == []
    assert found(check(NON_DOCTOR, policy=strict, password="Un-Mot2Passe")) == [
        E("Mot de passe : trop court, 16 caractères au moins")
    ]
    assert found(check(NON_DOCTOR, policy=strict, password="UnMot2PasseLongXY")) == [
        E(
            "Mot de passe : mélangez au moins 4 types de caractères parmi minuscules, "
            "majuscules, chiffres et autres caractères"
        )
    ]


def test_a_create_without_password_is_left_to_the_store() -> None:
    checked = check(NON_DOCTOR, password="")
    assert checked.problems == ()
    assert checked.line is not None
    assert checked.line.password is None


def test_the_policy_is_not_applied_on_modify() -> None:
    checked = check(NON_DOCTOR, action="M", password="faible")
    assert checked.problems == ()
    assert checked.line is not None
    assert checked.line.password == Secret("faible")


def test_a_password_on_delete_is_ignored_with_alerte() -> None:
    checked = check(NON_DOCTOR, action="S", password="faible")
    assert found(checked) == [A("Mot de passe : ignoré sur une ligne S (suppression)")]
    assert checked.line is not None
    assert checked.line.password is None
    assert checked.cells[9] == "***"


def test_password_problems_is_usable_alone() -> None:
    assert password_problems("Encore-1-Mot-Long", login="foeuvre", nom="Œuvre", policy=POLICY) == ()
    assert password_problems("œuvre-Encore-1-Mot", login="foeuvre", nom="Œuvre", policy=POLICY) == (
        Problem.erreur(msg.PASSWORD_CONTAINS_NOM),
    )


BAD_PASSWORD_ROWS = [
    {"password": "Dupont"},
    {"password": "dupont-10100473148"},
    {"password": "a\nb"},
    {"password": "Tr3s-Secret-Pass!", "action": "S"},
    {"password": "Tr3s-Secret-Pass!", "fin": "01/01/2020"},
    {"password": "Tr3s-Secret-Pass!", "email": "Tr3s-Secret-Pass!"},
    {"password": "Tr3s-Secret-Pass!", "role": "", "debut": "Tr3s-Secret-Pass!"},
]


@pytest.mark.parametrize("changes", BAD_PASSWORD_ROWS)
def test_no_message_and_no_cell_contains_the_password_column(changes: dict[str, str]) -> None:
    checked = check_with(DOCTOR, changes)
    assert checked.problems
    assert checked.cells[9] == "***"
    for problem in checked.problems:
        assert changes["password"] not in problem.message
        assert "Tr3s" not in problem.message


# ---------------------------------------------------------------------------------------------
# Email
# ---------------------------------------------------------------------------------------------


def test_a_non_mssante_email_is_ignored_and_the_rest_applies() -> None:
    checked = check(NON_DOCTOR, email="francois.oeuvre@gmail.com")
    assert found(checked) == [A(msg.EMAIL_NOT_MSSANTE)]
    assert checked.line is not None
    assert checked.line.email is None
    assert checked.line.identifiant == "cgarcon"


def test_email_domain_case_is_ignored_and_stored_lower_case() -> None:
    line = check(email="Jean.Dupont@APHP.MSSante.fr").line
    assert line is not None
    assert line.email == "jean.dupont@aphp.mssante.fr"


@pytest.mark.parametrize("email", ["x@mssante.fr.evil.com", "x@xmssante.fr"])
def test_lookalike_domains_are_not_mssante(email: str) -> None:
    assert found(check(email=email)) == [A(msg.EMAIL_NOT_MSSANTE)]


def test_a_malformed_email_is_ignored_with_alerte() -> None:
    assert found(check(email="jean.dupont")) == [A(msg.EMAIL_MALFORMED)]


# ---------------------------------------------------------------------------------------------
# Dates
# ---------------------------------------------------------------------------------------------


def test_fin_before_debut_is_refused() -> None:
    assert found(check(debut="02/01/2027", fin="01/01/2027")) == [
        E("Date de fin : antérieure à la date de début")
    ]


def test_a_one_day_profile_is_fine() -> None:
    line = check(debut="01/01/2027", fin="1/1/2027").line
    assert line is not None
    assert line.debut == line.fin == date(2027, 1, 1)


def test_create_with_a_fin_already_past_is_refused() -> None:
    assert found(check(debut="", fin="25/11/2026")) == [
        E(
            "Date de fin : le 25/11/2026 est passé, on ne peut pas créer un profil déjà "
            "terminé ; corrigez la date ou retirez la ligne"
        )
    ]


def test_create_ending_today_is_fine_the_fin_is_inclusive() -> None:
    assert check(fin="26/11/2026").problems == ()


def test_modify_and_delete_may_carry_a_past_fin() -> None:
    assert check(action="M", fin="01/01/2026").problems == ()
    assert check(action="S", password="", fin="01/01/2026").problems == ()


def test_both_date_problems_are_reported() -> None:
    assert found(check(debut="01/06/2026", fin="01/05/2026")) == [
        E(msg.FIN_BEFORE_DEBUT),
        E(msg.fin_past_on_create("01/05/2026")),
    ]


@pytest.mark.parametrize(("field", "column"), [("debut", "Date de début"), ("fin", "Date de fin")])
def test_date_problems_name_their_column(field: str, column: str) -> None:
    assert found(check_with(DOCTOR, {field: "31/02/2027"})) == [E(msg.date_nonexistent(column))]
    assert found(check_with(DOCTOR, {field: "01/03/27"})) == [
        N(f"{column.lower()} complétée : 01/03/2027")
    ]
    assert found(check_with(DOCTOR, {field: "mars 2027"})) == [E(msg.date_malformed(column))]
    assert msg.date_malformed(column) == f"{column} : n'est pas une date JJ/MM/AAAA"


def test_iso_debut_is_read_with_a_note() -> None:
    checked = check(debut="2026-03-01")
    assert found(checked) == [N("date de début lue au format AAAA-MM-JJ : 01/03/2026")]
    assert checked.line is not None
    assert checked.line.debut == date(2026, 3, 1)


# ---------------------------------------------------------------------------------------------
# S: a profile, never a team
# ---------------------------------------------------------------------------------------------

TEAM_ONLY = {k: "" for k in _ORDER} | {
    "ej": "750712184",
    "et": "750100125",
    "team": "Urgences adultes",
    "action": "S",
}


@pytest.mark.parametrize("role", ["", "CDC3E", "CDC3D", "CDC4"])
def test_deleting_a_team_by_csv_is_refused_with_one_clear_message(role: str) -> None:
    checked = check(TEAM_ONLY, role=role)
    assert found(checked) == [
        E("Nom de l'équipe : la suppression d'une équipe est impossible par fichier CSV")
    ]
    assert "la suppression d'une équipe est impossible par fichier CSV" in msg.TEAM_DELETION


def test_team_only_delete_still_reports_other_columns() -> None:
    assert found(check(TEAM_ONLY, et="750100126", role="XX")) == [
        E(msg.finess_key("Finess ET")),
        E(msg.TEAM_DELETION),
        E(msg.role_unknown("CDC3D, CDC3E, CDC3A, CDC4, CDC1, CDC2, SYNT, OEC1, OEC2")),
    ]


def test_deleting_a_profile_in_a_team_is_fine() -> None:
    checked = check(NON_DOCTOR, action="S", role="CDC4", team="Urgences adultes", password="")
    assert checked.problems == ()
    assert checked.line is not None
    assert (checked.line.action, checked.line.team) == (Action.DELETE, "Urgences adultes")


def test_a_create_naming_only_a_team_is_missing_a_person() -> None:
    assert found(check(TEAM_ONLY, action="C", role="CDC4")) == [
        E(msg.required("Nom")),
        E(msg.required("Prénom")),
        E(msg.identifiant_required("CDC4")),
    ]


def test_a_control_character_in_a_password_is_refused() -> None:
    assert found(check(NON_DOCTOR, password="Un-Mot2Passe\x7fLong")) == [
        E(
            "Mot de passe : contient un caractère de contrôle (retour à la ligne, tabulation…) "
            "impossible à saisir à la connexion"
        )
    ]


# ---------------------------------------------------------------------------------------------
# The shared sample files (shared/samples), line by line
# ---------------------------------------------------------------------------------------------

EXCEL_SAMPLE = [
    # excel-fr-windows1252.csv, decoded; the header is the parser's business.
    (
        "750712184;750100125;Urgences adultes;C;Dupont;Jean;10000000017;CDC3E;;"
        "Tr3s-Secret-Pass!;jean.dupont@aphp.mssante.fr;01/01/2026;",
        [],
    ),
    (
        "750712184;750100125;;C;Lefèvre;Anaïs;10000000025;CDC3D;;Autre#Passe2026;"
        "anais.lefevre@mssante.fr;;31/12/2027",
        [],
    ),
    ("750712184;750100125;Urgences adultes;C;Garçon;Cécile;;CDC4;cgarcon;Un-Mot2Passe-Long;;;", []),
    (
        "750712184;750100125;;C;Œuvre;François;;CDC1;foeuvre;Encore-1-Mot-Long;"
        "francois.oeuvre@gmail.com;;",
        [A(msg.EMAIL_NOT_MSSANTE)],
    ),
    (
        "750712184;750100125;;M;Dupont;Jean;10000000017;CDC3E;;;jean.dupont@aphp.mssante.fr;;"
        "30/06/2027",
        [E(msg.team_required("CDC3E"))],
    ),
    ("750712184;750100125;Urgences adultes;S;Garçon;Cécile;;CDC4;cgarcon;;;;", []),
]

DAMAGE_SAMPLE = [
    # spreadsheet-damage.csv. Its test passwords contain the Nom (Luc-Bernard-Pass1 for
    # Bernard…): the policy of SPEC §4 refuses them, so those lines are ERREUR for that too.
    (
        "10780062;10780062;;C;Bernard;Luc;1,00000E+10;CDC3D;;Luc-Bernard-Pass1;;;",
        [
            N("Finess EJ complété : 010780062"),
            N("Finess ET complété : 010780062"),
            E(msg.scientific_notation("N° RPPS")),
            E(msg.PASSWORD_CONTAINS_NOM),
        ],
    ),
    (
        "10780062;10780062;;C;Petit;Emma;;CDC1;epetit;Emma-Petit-Pass-2;;2026-03-01;",
        [
            N("Finess EJ complété : 010780062"),
            N("Finess ET complété : 010780062"),
            E(msg.PASSWORD_CONTAINS_NOM),
            N("date de début lue au format AAAA-MM-JJ : 01/03/2026"),
        ],
    ),
    (
        "10780062;10780062;;C;Moreau;Hugo;;SYNT;hmoreau;Hugo-Moreau-Pass-3;;45292;",
        [
            N("Finess EJ complété : 010780062"),
            N("Finess ET complété : 010780062"),
            E(msg.PASSWORD_CONTAINS_NOM),
            E(msg.date_serial("Date de début", "01/01/2024")),
        ],
    ),
    (
        "010780062;010780062;;C;Roux;Léa;;OEC1;lroux;Lea-Roux-Pass-44",
        [E(msg.PASSWORD_CONTAINS_NOM)],
    ),
]


@pytest.mark.parametrize(("text", "expected"), EXCEL_SAMPLE + DAMAGE_SAMPLE)
def test_sample_lines(text: str, expected: list[tuple[Code, str]]) -> None:
    checked = check_row(Row(2, tuple(text.split(";"))), TODAY, POLICY)
    assert found(checked) == expected
    assert (checked.line is None) == any(code is Code.ERREUR for code, _ in expected)


def test_only_the_nom_is_cached_never_the_password() -> None:
    from profilesync.fileformat import rules

    rules._FOLDED.clear()
    password = "Pâssword-Ünique-2026"
    checked = check(NON_DOCTOR, nom="Lefèvre", password=password)
    assert checked.problems == ()
    # One entry: the folded Nom. A password kept in a cache would outlive the file.
    assert rules._FOLDED == {"Lefèvre": "lefevre"}
    cached = repr([v for v in vars(rules).values() if isinstance(v, dict)])
    assert password not in cached
    assert "password-unique-2026" not in cached


# Unicode's upper() maps the long s (ſ) to S: a stray character must not read as a deletion
# (SPEC §4: the action is C, M or S, in either case), nor a look-alike as a role code.
@pytest.mark.parametrize("action", ["ſ", "ｓ", "ß"])
def test_a_character_that_only_upper_cases_to_an_action_is_unknown(action: str) -> None:
    assert found(check(NON_DOCTOR, action=action)) == [E(msg.ACTION_UNKNOWN)]


def test_a_role_that_only_upper_cases_to_a_code_is_unknown() -> None:
    assert E(msg.role_unknown("CDC3D, CDC3E, CDC3A, CDC4, CDC1, CDC2, SYNT, OEC1, OEC2")) in found(
        check(NON_DOCTOR, role="ſynt")
    )
    assert parse_role("ſynt") is None
    assert parse_role(" synt ") is Role.SYNT
