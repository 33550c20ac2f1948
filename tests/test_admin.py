"""The pure input rules of the admin library: FINESS numbers and logins."""

from __future__ import annotations

import pytest

from profilesync.store import admin
from profilesync.store.admin import (
    InvalidFiness,
    InvalidLogin,
    login_key,
    normalise_finess,
    normalise_login,
)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("750712184", "750712184"),
        ("750100125", "750100125"),
        ("130786049", "130786049"),
        ("690781810", "690781810"),
        ("010780062", "010780062"),
        ("2A0000154", "2A0000154"),
        ("2b0000038", "2B0000038"),
        (" 2B0004246 ", "2B0004246"),
    ],
)
def test_valid_finess_is_normalised(given: str, expected: str) -> None:
    assert normalise_finess(given, "ET") == expected


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("750712185", "ET 750712185 has a wrong check key (last digit)"),
        ("2A0000155", "ET 2A0000155 has a wrong check key (last digit)"),
        ("75071218", "ET '75071218' has 8 characters: a FINESS number has 9"),
        ("", "ET '' has 0 characters: a FINESS number has 9"),
        (
            "10780062",
            "ET 10780062 has 8 digits: a spreadsheet may have dropped its leading zero; "
            "did you mean 010780062?",
        ),
        (
            "2C0000154",
            "ET '2C0000154' is not a FINESS number: a département (01–95, 2A, 2B, 97, 98) "
            "then digits",
        ),
        (  # Luhn-valid, but there is no département 99
            "990000002",
            "ET '990000002' is not a FINESS number: a département (01–95, 2A, 2B, 97, 98) "
            "then digits",
        ),
    ],
)
def test_invalid_finess_says_why(given: str, message: str) -> None:
    with pytest.raises(InvalidFiness) as info:
        normalise_finess(given, "ET")
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("given", "expected"),
    [("jdupont", "jdupont"), ("JDupont", "jdupont"), (" jean.dupont ", "jean.dupont"),
     ("dupont_j-2", "dupont_j-2"), ("J.Dupont@CHU", "j.dupont@chu"), ("a" * 100, "a" * 100)],
)  # fmt: skip
def test_logins_are_lower_case(given: str, expected: str) -> None:
    assert normalise_login(given) == expected


def test_login_key_compares_without_validating() -> None:
    """A run's submitter is looked up in this form: an invalid one finds no référent."""
    assert login_key(" JDupont ") == "jdupont"
    assert login_key("Exports") == "exports"
    assert login_key("a b/C") == "a b/c"


LOGIN_RULE = (
    "it names the référent's inbox folder, so use only letters a-z, digits, '.', '_', '-' "
    "and '@', start with a letter or a digit, no '..', at most 100 characters"
)


@pytest.mark.parametrize(
    "given",
    ["", "a/b", "..", "a..b", "a b", ".hidden", "-x", "dupont\\j", "éloïse", "a" * 101, "x\ny"],
)
def test_logins_that_cannot_name_a_folder_are_refused(given: str) -> None:
    with pytest.raises(InvalidLogin) as info:
        normalise_login(given)
    assert str(info.value) == f"invalid login {given!r}: {LOGIN_RULE}"


def test_exports_is_reserved_for_the_exports_folder() -> None:
    with pytest.raises(InvalidLogin) as info:
        normalise_login("Exports")
    assert str(info.value) == f"invalid login 'Exports': {LOGIN_RULE}, and not 'exports' (reserved)"


def test_operator_actor_names_the_sudo_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUDO_USER", "alice")
    assert admin.operator_actor() == "operator:alice"
    monkeypatch.delenv("SUDO_USER")
    assert admin.operator_actor().startswith("operator:")
    assert admin.operator_actor() != "operator:"
