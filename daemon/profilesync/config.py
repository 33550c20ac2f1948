"""One typed settings object, loaded once: defaults ← TOML file ← PROFILESYNC_<SECTION>_<KEY>.

Relative paths are taken relative to the working directory of the process (the systemd
unit sets `WorkingDirectory=`), which keeps the embedded defaults (`var/…`) usable from a
fresh clone.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from profilesync import ldapurl
from profilesync.errors import ProfilesyncError

ENV_PREFIX = "PROFILESYNC_"
CONFIG_ENV = "PROFILESYNC_CONFIG"
BIND_PASSWORD_ENV = "PROFILESYNC_LDAP_BIND_PASSWORD"  # noqa: S105 - a variable name


class ConfigError(ProfilesyncError):
    """The configuration file or an override is unreadable or has a wrong key or value."""


@dataclass(frozen=True)
class PathsSettings:
    inbox: Path = Path("var/inbox")
    outbox: Path = Path("var/outbox")
    state: Path = Path("var/state")


@dataclass(frozen=True)
class DatabaseSettings:
    url: str = "sqlite:///var/profilesync.db"
    # Lines per transaction; each line still has its own savepoint.
    batch_size: int = 500


@dataclass(frozen=True)
class LdapSettings:
    url: str = ""
    base_dn: str = "dc=example,dc=org"
    bind_dn: str = "cn=admin,dc=example,dc=org"
    bind_password_file: str = ""
    ca_file: str = ""
    start_tls: bool = False
    people_ou: str = "people"
    establishments_ou: str = "establishments"
    teams_ou: str = "teams"
    roles_ou: str = "roles"
    person_object_classes: tuple[str, ...] = ("inetOrgPerson",)
    timeout_seconds: float = 10.0
    # Operations in flight on one connection; slapd drops a client past 1000.
    pipeline_window: int = 256
    retry_max_seconds: float = 300.0
    # Which directory server: "openldap", "389ds", or "auto" (read from the root DSE at
    # every connection). It decides the lock, the password scheme, the password age and
    # the controls (directory/servers.py).
    server: str = "auto"

    @functools.cached_property
    def endpoint(self) -> ldapurl.LdapUrl:
        """`url` parsed (checked at load: a bad URL never gets this far)."""
        return ldapurl.parse(self.url)

    def bind_password(self) -> str:
        """The bind password from the environment or the file: never from the TOML itself."""
        env = os.environ.get(BIND_PASSWORD_ENV)
        if env is not None:
            return env
        if self.bind_password_file:
            try:
                return Path(self.bind_password_file).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(
                    f"cannot read [ldap] bind_password_file {self.bind_password_file}: "
                    f"{exc.strerror}"
                ) from None
        return ""


@dataclass(frozen=True)
class LimitsSettings:
    max_file_bytes: int = 50 * 1024 * 1024
    max_rows: int = 200_000


@dataclass(frozen=True)
class PasswordSettings:
    min_length: int = 12
    min_classes: int = 3
    max_age_days: int = 90
    # argon2id, OWASP minimums (m=19 MiB, t=2, p=1); OpenLDAP's argon2 module verifies these.
    argon2_time_cost: int = 2
    argon2_memory_kib: int = 19456
    argon2_parallelism: int = 1
    # Processes hashing passwords; 0 = one per core.
    hash_workers: int = 0
    # The userPassword scheme: "argon2" ({ARGON2}, OpenLDAP's argon2 module),
    # "pbkdf2-sha512" ({PBKDF2-SHA512}, 389 Directory Server's default), or "auto":
    # pbkdf2-sha512 when [ldap] server = "389ds", argon2 otherwise.
    scheme: str = "auto"
    # PBKDF2-SHA512 iterations (OWASP 2023: 210,000).
    pbkdf2_iterations: int = 210_000


@dataclass(frozen=True)
class ImportSettings:
    # A file whose S lines would remove more than this share of an establishment's active
    # profiles (and at least `mass_delete_min`) waits for `profilesync approve`.
    mass_delete_share: float = 0.25
    mass_delete_min: int = 10


@dataclass(frozen=True)
class DaemonSettings:
    timezone: str = "Europe/Paris"
    stable_seconds: float = 2.0
    rescan_seconds: float = 60.0
    polling_observer: bool = False
    private_copy_days: int = 7
    archive_days: int = 365
    log_format: str = "text"
    log_level: str = "INFO"


@dataclass(frozen=True)
class JobsSettings:
    validity_minutes: int = 15
    export_time: str = "02:00"
    exports_keep_days: int = 30
    directory_sync_seconds: float = 5.0
    # The longest one run of a job keeps its lease (a hung job loses it after this).
    lease_seconds: int = 600
    # A running job renews its lease this often; a holder silent for two beats (its host
    # died, a network split) loses it to the other daemons.
    lease_beat_seconds: float = 10.0


@dataclass(frozen=True)
class NotifySettings:
    """Email to référents (issue 10, service/mail.py): off while `host` is empty."""

    host: str = ""
    port: int = 25
    # Upgrade the connection with STARTTLS before sending (and before any login).
    starttls: bool = False
    # CA certificate (PEM) to verify the SMTP server with; empty: the system's CAs.
    ca_file: str = ""
    sender: str = "profilesync@localhost"
    # A file with the SMTP user on its first line and the password on its second; empty:
    # no login. Readable by the service user alone (check-config warns otherwise).
    credentials_file: str = ""
    timeout_seconds: float = 10.0


@dataclass(frozen=True)
class RetentionSettings:
    """How long the outbox keeps what holds personal data (issue 10, the prune job)."""

    # Reports and the référents' copies of exports in outbox/<login>/; modele.csv never.
    outbox_days: int = 90


@dataclass(frozen=True)
class Settings:
    paths: PathsSettings = field(default_factory=PathsSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    ldap: LdapSettings = field(default_factory=LdapSettings)
    limits: LimitsSettings = field(default_factory=LimitsSettings)
    passwords: PasswordSettings = field(default_factory=PasswordSettings)
    imports: ImportSettings = field(default_factory=ImportSettings)
    daemon: DaemonSettings = field(default_factory=DaemonSettings)
    jobs: JobsSettings = field(default_factory=JobsSettings)
    notify: NotifySettings = field(default_factory=NotifySettings)
    retention: RetentionSettings = field(default_factory=RetentionSettings)

    def with_overrides(self, **sections: Mapping[str, Any]) -> Settings:
        """A copy with some keys changed, e.g. `with_overrides(paths={"inbox": p})`; for tests."""
        merged = _merge(self, {k: dict(v) for k, v in sections.items()}, source="override")
        return _check_choices(merged, "override")


SERVERS = ("auto", "openldap", "389ds")
SCHEMES = ("auto", "argon2", "pbkdf2-sha512")


def password_scheme(settings: Settings) -> str:
    """The concrete scheme new passwords are hashed with: "auto" follows [ldap] server.

    Hashing happens at import time, with no directory connection: the scheme must be
    known from the configuration (see docs/architecture.md, "Password schemes").
    """
    scheme = settings.passwords.scheme
    if scheme != "auto":
        return scheme
    return "pbkdf2-sha512" if settings.ldap.server == "389ds" else "argon2"


def _check_choices(settings: Settings, source: str) -> Settings:
    if settings.ldap.server not in SERVERS:
        raise ConfigError(f"{source}: [ldap] server must be one of {', '.join(SERVERS)}")
    if settings.passwords.scheme not in SCHEMES:
        raise ConfigError(f"{source}: [passwords] scheme must be one of {', '.join(SCHEMES)}")
    if settings.ldap.url:
        try:
            endpoint = settings.ldap.endpoint
        except ldapurl.LdapUrlError as exc:
            raise ConfigError(f"{source}: [ldap] url {exc}") from None
        if endpoint.ipc and settings.ldap.start_tls:
            raise ConfigError(
                f"{source}: [ldap] start_tls does not apply to an ldapi:// socket: "
                "set start_tls = false (the socket is local)"
            )
    return settings


def hashing(settings: Settings) -> PasswordSettings:
    """[passwords] with the concrete scheme: what the Hasher is given."""
    return dataclasses.replace(settings.passwords, scheme=password_scheme(settings))


# TOML section name → Settings attribute (`import` is a keyword).
_SECTION_ATTR = {"import": "imports"}


# Ranges a value must fall in (inclusive; None: unbounded): a negative row limit or a zero
# rescan interval is a typo that would otherwise show up as odd behaviour at 3 am.
_RANGES: dict[tuple[str, str], tuple[float | None, float | None]] = {
    ("database", "batch_size"): (1, 100_000),
    ("ldap", "timeout_seconds"): (0.1, 3600),
    ("ldap", "pipeline_window"): (1, 1000),
    ("ldap", "retry_max_seconds"): (1, None),
    ("limits", "max_file_bytes"): (1, None),
    ("limits", "max_rows"): (1, None),
    ("passwords", "min_length"): (1, 128),
    ("passwords", "min_classes"): (1, 4),
    ("passwords", "max_age_days"): (0, 36_500),
    ("passwords", "argon2_time_cost"): (1, 100),
    ("passwords", "argon2_memory_kib"): (8, 4 * 1024 * 1024),
    ("passwords", "argon2_parallelism"): (1, 64),
    ("passwords", "hash_workers"): (0, 256),
    ("passwords", "pbkdf2_iterations"): (1_000, 10_000_000),
    ("imports", "mass_delete_share"): (0.0, 1.0),
    ("imports", "mass_delete_min"): (1, None),
    ("daemon", "stable_seconds"): (0, 3600),
    ("daemon", "rescan_seconds"): (0.1, 86_400),
    ("daemon", "private_copy_days"): (0, 3650),
    ("daemon", "archive_days"): (0, 36_500),
    ("jobs", "validity_minutes"): (1, 1440),
    ("jobs", "exports_keep_days"): (0, 36_500),
    ("jobs", "directory_sync_seconds"): (0.1, 86_400),
    ("jobs", "lease_seconds"): (10, 86_400),
    ("jobs", "lease_beat_seconds"): (0.05, 3600),
    ("notify", "port"): (1, 65_535),
    ("notify", "timeout_seconds"): (0.1, 600),
    ("retention", "outbox_days"): (1, 36_500),
}
# PROFILESYNC_* variables that are no setting, and the prefix of the tests' own.
_OTHER_VARIABLES = frozenset({CONFIG_ENV, BIND_PASSWORD_ENV})
_TEST_PREFIX = f"{ENV_PREFIX}TEST_"


def load(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Defaults, then the TOML file (`path`, else $PROFILESYNC_CONFIG, else none), then env."""
    environ = os.environ if environ is None else environ
    if path is None and environ.get(CONFIG_ENV):
        path = Path(environ[CONFIG_ENV])
    data: dict[str, dict[str, Any]] = {}
    if path is not None:
        try:
            with path.open("rb") as fh:
                raw = tomllib.load(fh)
        except OSError as exc:
            raise ConfigError(f"cannot read configuration {path}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"configuration {path} is not valid TOML: {exc}") from None
        for section, values in raw.items():
            if not isinstance(values, dict):
                raise ConfigError(f"configuration {path}: [{section}] must be a table")
            data[_SECTION_ATTR.get(section, section)] = values
    settings = _merge(Settings(), data, source=str(path))
    settings = _merge(settings, _env_sections(settings, environ), source="environment")
    _check_ranges(settings)
    return _check_choices(settings, str(path) if path else "environment")


def _check_ranges(settings: Settings) -> None:
    for (section, key), (low, high) in _RANGES.items():
        value = getattr(getattr(settings, section), key)
        if (low is not None and value < low) or (high is not None and value > high):
            toml = next((k for k, v in _SECTION_ATTR.items() if v == section), section)
            bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise ConfigError(f"[{toml}] {key} must be {bounds}, got {value!r}")


def _env_sections(settings: Settings, environ: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    known = set(_OTHER_VARIABLES)
    for f in dataclasses.fields(settings):
        section_obj = getattr(settings, f.name)
        toml_name = next((k for k, v in _SECTION_ATTR.items() if v == f.name), f.name)
        for key in (k.name for k in dataclasses.fields(section_obj)):
            var = f"{ENV_PREFIX}{toml_name.upper()}_{key.upper()}"
            known.add(var)
            if var in environ:
                out.setdefault(f.name, {})[key] = environ[var]
    # A misspelt override would be silently ignored: the operator believes it applies.
    for var in environ:
        if var.startswith(ENV_PREFIX) and var not in known and not var.startswith(_TEST_PREFIX):
            close = difflib.get_close_matches(var, sorted(known), n=1, cutoff=0.9)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ConfigError(f"environment: unknown variable {var}{hint}")
    return out


def _merge(settings: Settings, data: dict[str, dict[str, Any]], source: str) -> Settings:
    changes: dict[str, Any] = {}
    known = {f.name for f in dataclasses.fields(settings)}
    for section, values in data.items():
        if section not in known:
            raise ConfigError(f"{source}: unknown section [{section}]")
        current = getattr(settings, section)
        hints = typing.get_type_hints(type(current))
        fields = {f.name for f in dataclasses.fields(current)}
        kw: dict[str, Any] = {}
        for key, value in values.items():
            if key not in fields:
                raise ConfigError(f"{source}: unknown key {key!r} in [{section}]")
            kw[key] = _coerce(value, hints[key], f"{source}: [{section}] {key}")
        changes[section] = dataclasses.replace(current, **kw)
    return dataclasses.replace(settings, **changes)


def _coerce(value: Any, hint: Any, where: str) -> Any:
    """Environment values arrive as strings; TOML values are checked against the field type."""
    if hint is Path:
        return Path(value)
    if hint is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in {"1", "true", "yes", "on"}:
            return True
        if text in {"0", "false", "no", "off", ""}:
            return False
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if hint in (int, float):
        if isinstance(value, bool):  # TOML `true` would otherwise be the number 1
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        try:
            return hint(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected a number, got {value!r}") from None
    if hint is str:
        return str(value)
    if typing.get_origin(hint) is tuple or isinstance(hint, types.GenericAlias):
        if isinstance(value, str):
            return tuple(v.strip() for v in value.split(",") if v.strip())
        return tuple(str(v) for v in value)
    return value
