"""config.py: defaults ← TOML ← PROFILESYNC_<SECTION>_<KEY>, errors, and the example file."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest

from profilesync import config
from profilesync.config import ConfigError, Settings

EXAMPLE = Path(__file__).resolve().parents[1] / "config" / "profilesync.example.toml"
TOML_SECTION = {"imports": "import"}


def settings_keys() -> dict[str, set[str]]:
    """Every key of Settings, by TOML section name."""
    return {
        TOML_SECTION.get(section.name, section.name): {
            f.name for f in dataclasses.fields(getattr(Settings(), section.name))
        }
        for section in dataclasses.fields(Settings)
    }


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "profilesync.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_no_file_no_environment_gives_the_defaults() -> None:
    assert config.load(None, environ={}) == Settings()


def test_example_file_loads_to_exactly_the_defaults() -> None:
    assert config.load(EXAMPLE, environ={}) == Settings()


def test_example_file_has_every_key_and_no_other() -> None:
    with EXAMPLE.open("rb") as fh:
        raw = tomllib.load(fh)
    assert {section: set(values) for section, values in raw.items()} == settings_keys()


def test_example_file_comments_every_key() -> None:
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    for n, line in enumerate(lines):
        if "=" in line and not line.startswith("#"):
            above = lines[n - 1]
            # A key is commented on the line above, or belongs to a commented group.
            assert above.startswith("#") or ("=" in above and not above.startswith("#")), line


def test_toml_values_are_typed(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [paths]
        inbox = "/srv/profilesync/inbox"
        [database]
        url = "postgresql+psycopg://profilesync@db/profilesync"
        batch_size = 1000
        [ldap]
        start_tls = true
        person_object_classes = ["inetOrgPerson", "hospitalPerson"]
        timeout_seconds = 3
        [import]
        mass_delete_share = 0.5
        """,
    )
    settings = config.load(path, environ={})
    assert settings.paths.inbox == Path("/srv/profilesync/inbox")
    assert settings.paths.outbox == Path("var/outbox")
    assert settings.database.url == "postgresql+psycopg://profilesync@db/profilesync"
    assert settings.database.batch_size == 1000
    assert settings.ldap.start_tls is True
    assert settings.ldap.person_object_classes == ("inetOrgPerson", "hospitalPerson")
    assert settings.ldap.timeout_seconds == 3.0
    assert isinstance(settings.ldap.timeout_seconds, float)
    assert settings.imports.mass_delete_share == 0.5


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[database]\nurl = "sqlite:///from-file.db"\nbatch_size = 7\n')
    settings = config.load(
        path,
        environ={
            "PROFILESYNC_DATABASE_URL": "sqlite:///from-env.db",
            "PROFILESYNC_LIMITS_MAX_ROWS": "1000",
            "PROFILESYNC_LDAP_START_TLS": "yes",
            "PROFILESYNC_LDAP_PERSON_OBJECT_CLASSES": "inetOrgPerson, extra",
            "PROFILESYNC_IMPORT_MASS_DELETE_MIN": "3",
            "PROFILESYNC_PATHS_STATE": "/var/lib/profilesync",
            "PROFILESYNC_TEST_CRASH_AT": "the tests' own variables are no settings",
        },
    )
    assert settings.database.url == "sqlite:///from-env.db"
    assert settings.database.batch_size == 7
    assert settings.limits.max_rows == 1000
    assert settings.ldap.start_tls is True
    assert settings.ldap.person_object_classes == ("inetOrgPerson", "extra")
    assert settings.imports.mass_delete_min == 3
    assert settings.paths.state == Path("/var/lib/profilesync")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1", True), ("TRUE", True), ("on", True), ("0", False), ("no", False), ("", False)],
)
def test_environment_booleans(text: str, expected: bool) -> None:
    settings = config.load(None, environ={"PROFILESYNC_DAEMON_POLLING_OBSERVER": text})
    assert settings.daemon.polling_observer is expected


def test_config_file_from_profilesync_config(tmp_path: Path) -> None:
    path = write(tmp_path, "[limits]\nmax_rows = 5\n")
    settings = config.load(None, environ={"PROFILESYNC_CONFIG": str(path)})
    assert settings.limits.max_rows == 5


def test_explicit_path_wins_over_profilesync_config(tmp_path: Path) -> None:
    path = write(tmp_path, "[limits]\nmax_rows = 5\n")
    other = tmp_path / "other.toml"
    other.write_text("[limits]\nmax_rows = 6\n", encoding="utf-8")
    settings = config.load(path, environ={"PROFILESYNC_CONFIG": str(other)})
    assert settings.limits.max_rows == 5


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("[limits\n", "is not valid TOML"),
        ("[nosuch]\nx = 1\n", "unknown section [nosuch]"),
        ("[limits]\nmax_lines = 1\n", "unknown key 'max_lines' in [limits]"),
        ('[limits]\nmax_rows = "many"\n', "[limits] max_rows: expected a number, got 'many'"),
        ('[ldap]\nstart_tls = "perhaps"\n', "[ldap] start_tls: expected true or false"),
        ("limits = 3\n", "[limits] must be a table"),
    ],
)
def test_file_errors_name_the_problem(tmp_path: Path, text: str, error: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        config.load(path, environ={})
    assert error in str(info.value)
    assert str(path) in str(info.value)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read configuration .*nope\.toml"):
        config.load(tmp_path / "nope.toml", environ={})


def test_bad_environment_value_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"environment: \[database\] batch_size"):
        config.load(None, environ={"PROFILESYNC_DATABASE_BATCH_SIZE": "lots"})


def test_bind_password_never_comes_from_the_toml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PROFILESYNC_LDAP_BIND_PASSWORD", raising=False)
    secret_file = tmp_path / "bind"
    secret_file.write_text("s3cret\n", encoding="utf-8")
    path = write(tmp_path, f'[ldap]\nbind_password_file = "{secret_file}"\n')
    settings = config.load(path, environ={})
    assert settings.ldap.bind_password() == "s3cret"
    monkeypatch.setenv("PROFILESYNC_LDAP_BIND_PASSWORD", "from-env")
    assert settings.ldap.bind_password() == "from-env"


def test_unreadable_bind_password_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROFILESYNC_LDAP_BIND_PASSWORD", raising=False)
    settings = Settings().with_overrides(ldap={"bind_password_file": str(tmp_path / "none")})
    with pytest.raises(ConfigError, match=r"cannot read \[ldap\] bind_password_file"):
        settings.ldap.bind_password()
    assert Settings().ldap.bind_password() == ""


def test_with_overrides_changes_only_what_it_names(tmp_path: Path) -> None:
    settings = Settings().with_overrides(paths={"inbox": tmp_path}, limits={"max_rows": 9})
    assert settings.paths.inbox == tmp_path
    assert settings.limits.max_rows == 9
    assert settings.paths.outbox == Settings().paths.outbox
    with pytest.raises(ConfigError, match="unknown key"):
        Settings().with_overrides(limits={"rows": 1})


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {"PROFILESYNC_DATABSE_URL": "sqlite:///x.db"},
            "environment: unknown variable PROFILESYNC_DATABSE_URL "
            "(did you mean PROFILESYNC_DATABASE_URL?)",
        ),
        ({"PROFILESYNC_SOMETHING": "x"}, "environment: unknown variable PROFILESYNC_SOMETHING"),
        ({"PROFILESYNC_LIMITS_MAX_ROWS": "-5"}, "[limits] max_rows must be at least 1, got -5"),
        (
            {"PROFILESYNC_IMPORT_MASS_DELETE_SHARE": "25"},
            "[import] mass_delete_share must be between 0.0 and 1.0, got 25.0",
        ),
        (
            {"PROFILESYNC_PASSWORDS_MIN_CLASSES": "5"},
            "[passwords] min_classes must be between 1 and 4, got 5",
        ),
        (
            {"PROFILESYNC_DAEMON_RESCAN_SECONDS": "0"},
            "[daemon] rescan_seconds must be between 0.1 and 86400, got 0.0",
        ),
    ],
)
def test_a_misspelt_variable_or_an_absurd_value_is_refused(
    environ: dict[str, str], message: str
) -> None:
    """Silently ignored, a typo would leave the operator believing it applies (issue 9)."""
    with pytest.raises(config.ConfigError) as info:
        config.load(None, environ=environ)
    assert str(info.value) == message


def test_a_boolean_where_a_number_goes_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "[limits]\nmax_rows = true\n")
    with pytest.raises(config.ConfigError) as info:
        config.load(path, environ={})
    assert str(info.value) == f"{path}: [limits] max_rows: expected a number, got True"
