"""An operator's change to an account's own data: names, email, password (SPEC §4).

A référent changes these only on an account no other establishment relies on; when one does,
the import ignores the column with an ALERTE and the change is the operator's to make, with
this module (`profilesync account set`). The inputs go through the same checks as a file's
cells, the change is audited under the operator's name, never with the password or its
hash, and the directory follows through the queue like any other change.

Functions take the caller's session and never commit: the CLI commits once per command.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from profilesync.config import PasswordSettings
from profilesync.errors import ProfilesyncError
from profilesync.fileformat import identifiers
from profilesync.fileformat.rules import NAME_MAX, password_problems
from profilesync.secret import Secret
from profilesync.store.model import Account, ActorKind, Audit, ChangeKind, DirectoryChange

# What the audit records of a new password: that it changed, never the value nor its hash.
PASSWORD_CHANGED = "changed"  # noqa: S105 - a marker, not a password


class AccountError(ProfilesyncError):
    """An account change cannot be carried out as asked; the message says how to fix it."""


class UnknownAccount(AccountError):
    """No account has this key (Identifiant, or RPPS for a doctor)."""


class InvalidAccountValue(AccountError):
    """A name, email or password the import rules would refuse too."""


@dataclass(frozen=True)
class AccountChange:
    """What `update_account` changed, by field (`password` never carries a value)."""

    key: str
    changed: tuple[str, ...]


def update_account(
    session: Session,
    key: str,
    *,
    nom: str | None = None,
    prenom: str | None = None,
    email: str | None = None,
    password: Secret | None = None,
    hash_password: Any = None,
    policy: PasswordSettings,
    actor: str,
    now: datetime,
) -> AccountChange:
    """Set the given fields of account `key`; unchanged values are no change and no audit.

    `hash_password(secret) -> str` hashes a new password (the caller owns the hasher). A
    doctor's names come from the national RPPS directory: they may be set here too, since
    the operator is the one who corrects a wrong entry.
    """
    account = session.scalars(sa.select(Account).where(Account.key == key)).one_or_none()
    if account is None:
        raise UnknownAccount(f"no account has the key {key!r} (an Identifiant or an RPPS)")
    changes: dict[str, Any] = {}
    for field, value in (("nom", nom), ("prenom", prenom)):
        if value is None:
            continue
        text = _name(value, field)
        if getattr(account, field) != text:
            changes[field] = [getattr(account, field), text]
            setattr(account, field, text)
    if email is not None:
        new_email = _email(email)
        if new_email != account.email:
            changes["email"] = [account.email, new_email]
            account.email = new_email
    if password is not None:
        found = password_problems(
            password.reveal(), login=account.key, nom=account.nom, policy=policy
        )
        if found:
            raise InvalidAccountValue(
                "password refused by the policy: " + "; ".join(p.message for p in found)
            )
        if hash_password is None:
            raise InvalidAccountValue("a password needs a hasher")  # a programming error
        account.password_hash = hash_password(password)
        account.password_set_at = now
        changes["password"] = PASSWORD_CHANGED
    if changes:
        account.updated_at = now
        session.add(
            Audit(
                at=now,
                actor=actor,
                actor_kind=ActorKind.OPERATOR.value,
                action="account.update",
                entity="account",
                entity_key=key,
                account_key=key,
                changes=changes,
            )
        )
        session.add(
            DirectoryChange(
                kind=str(ChangeKind.ACCOUNT), key=key, created_at=now, next_attempt_at=now
            )
        )
    return AccountChange(key, tuple(changes))


def _name(value: str, field: str) -> str:
    text = " ".join(value.split())
    if not text or len(text) > NAME_MAX or not text.isprintable():
        raise InvalidAccountValue(
            f"{field} must be 1 to {NAME_MAX} printable characters, got {value!r}"
        )
    return text


def _email(value: str) -> str | None:
    """An empty value removes the email; any other must be an MSSanté address."""
    if not value.strip():
        return None
    parsed, problem = identifiers.read_mssante_email(value.strip())
    if problem is not None or parsed is None:
        raise InvalidAccountValue(f"email {value!r} is not an MSSanté address (…@mssante.fr)")
    return str(parsed)
