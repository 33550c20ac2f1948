"""What differs between the directory servers profilesync supports, in one place.

OpenLDAP (with ppolicy) and 389 Directory Server agree on the tree but not on how an
account is locked, which `userPassword` schemes they verify, where a password's age is
kept, nor on the Permissive Modify control: operations.md §11 records what each does,
measured on the real servers. A `ServerProfile` holds those differences; `identify`
recognises the server from its root DSE (`vendorName: 389 Project`, or the
`OpenLDAProotDSE` object class: neither lists Permissive Modify, so `supportedControl`
cannot tell them apart).

A value in a scheme the server does not verify would be taken for a clear password and
would let anyone holding the stored string bind: `verifies` is what the push checks
before it sends any `userPassword`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from profilesync.errors import ProfilesyncError
from profilesync.store.passwords import scheme_of

OPENLDAP = "openldap"
DS389 = "389ds"


class UnknownServer(ProfilesyncError):
    """The root DSE names neither OpenLDAP nor 389 Directory Server: set [ldap] server."""


@dataclass(frozen=True)
class ServerProfile:
    """How one kind of server locks, verifies, ages passwords, and which controls it honours."""

    name: str
    # The attribute and value of profilesync's own permanent lock.
    lock_attribute: str
    lock_value: str
    # `{SCHEME}` prefixes the server verifies when written pre-hashed by our bind DN.
    schemes: frozenset[str]
    # The operational attribute the password's age is read from.
    age_attribute: str
    # True when `age_attribute` is an expiry (389) rather than a change time (OpenLDAP).
    age_is_expiry: bool
    # Permissive Modify (1.2.840.113556.1.4.1413): a present add / absent delete succeeds.
    permissive_modify: bool
    # Where the missing-scheme advice points.
    scheme_advice: str

    def verifies(self, stored: str) -> bool:
        """Whether a stored value binds only with its password on this server."""
        return scheme_of(stored) in self.schemes

    def is_locked(self, values: Sequence[str]) -> bool:
        """Whether the entry carries profilesync's permanent lock (never a policy lockout)."""
        return any(v.casefold() == self.lock_value.casefold() for v in values)

    def lock_change(self) -> list[tuple[str, list[str]]]:
        return [("MODIFY_REPLACE", [self.lock_value])]

    def unlock_change(self, values: Sequence[str]) -> list[tuple[str, list[str]]]:
        """Lift only our lock: OpenLDAP's timestamped lockout after failed binds stays."""
        ours = [v for v in values if v.casefold() == self.lock_value.casefold()]
        return [("MODIFY_DELETE", ours)]

    def password_changed_at(self, values: Sequence[str], max_age_days: int) -> datetime | None:
        """When the directory says the password was last written, if it keeps a record.

        389 keeps only the expiry (`passwordExpirationTime` = write + passwordMaxAge): the
        change time is that minus `max_age_days`, which must match the server's
        passwordMaxAge (operations.md). Its 19700101000000Z ("must change") is no date.
        """
        if not values:
            return None
        when = parse_generalized_time(values[0])
        if when is None:
            return None
        if self.age_is_expiry:
            if when.year <= 1970 or max_age_days <= 0:
                return None
            return when - timedelta(days=max_age_days)
        return when


OPENLDAP_PROFILE = ServerProfile(
    name=OPENLDAP,
    lock_attribute="pwdAccountLockedTime",
    lock_value="000001010000Z",  # ppolicy: a lock that never expires
    schemes=frozenset({"{ARGON2}"}),
    age_attribute="pwdChangedTime",
    age_is_expiry=False,
    permissive_modify=True,
    scheme_advice="load OpenLDAP's argon2 module (moduleload argon2) for {ARGON2}",
)
DS389_PROFILE = ServerProfile(
    name=DS389,
    lock_attribute="nsAccountLock",
    lock_value="TRUE",  # bind answers 53 « Account inactivated »
    schemes=frozenset({"{PBKDF2-SHA512}"}),
    age_attribute="passwordExpirationTime",
    age_is_expiry=True,
    permissive_modify=False,
    scheme_advice=(
        'set [passwords] scheme = "pbkdf2-sha512" (or [ldap] server = "389ds"), keep '
        "passwordStorageScheme PBKDF2-SHA512, and bind as Directory Manager or the "
        "passwordAdminDN"
    ),
)
PROFILES = {OPENLDAP: OPENLDAP_PROFILE, DS389: DS389_PROFILE}
# What a root DSE read asks for: `*` alone omits operational attributes on 389.
ROOT_DSE_ATTRIBUTES = ["objectClass", "vendorName", "vendorVersion"]


def identify(root_dse: Mapping[str, Sequence[str]]) -> ServerProfile:
    """The profile of the server whose root DSE this is (attribute names any case)."""
    attrs = {k.casefold(): [str(v) for v in vals] for k, vals in root_dse.items()}
    vendor = " ".join(attrs.get("vendorname", ()))
    if "389 project" in vendor.casefold():
        return DS389_PROFILE
    if any(c.casefold() == "openldaprootdse" for c in attrs.get("objectclass", ())):
        return OPENLDAP_PROFILE
    raise UnknownServer(
        f"the directory's root DSE names neither OpenLDAP nor 389 Directory Server "
        f"(vendorName {vendor or 'absent'}): set [ldap] server"
    )


def configured(name: str) -> ServerProfile | None:
    """The profile `[ldap] server` names; None for "auto" (read the root DSE)."""
    return PROFILES.get(name)


def parse_generalized_time(text: str) -> datetime | None:
    """`20261201083000Z` (optionally with fractions) as an aware UTC datetime."""
    digits = text.strip().rstrip("Zz").split(".")[0]
    try:
        return datetime.strptime(digits[:14], "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return None
