"""The profile database, system of record (SPEC §9): SQLAlchemy 2 typed tables.

The schema is owned by the Alembic migrations in `profilesync/migrations`; this module is
the ORM view of it and must stay in step (a test compares the two).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar, NotRequired, TypedDict, Unpack

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from profilesync.fileformat.outcome import Summary

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on both engines (SQLite keeps no zone: store naive UTC)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
    }


class Establishment(Base):
    """A Finess ET, registered by an operator, with the EJ it belongs to."""

    __tablename__ = "establishment"

    id: Mapped[int] = mapped_column(primary_key=True)
    et: Mapped[str] = mapped_column(String(9), unique=True)
    ej: Mapped[str] = mapped_column(String(9), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime]


class Referent(Base):
    """A login allowed to submit files for some establishments (SPEC §6)."""

    __tablename__ = "referent"

    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime]
    # Where notifications go (issue 10, service/mail.py); None: no email.
    email: Mapped[str | None] = mapped_column(String(254))
    establishments: Mapped[list[Establishment]] = relationship(
        secondary="referent_establishment", lazy="selectin"
    )


class ReferentEstablishment(Base):
    __tablename__ = "referent_establishment"

    referent_id: Mapped[int] = mapped_column(
        ForeignKey("referent.id", ondelete="CASCADE"), primary_key=True
    )
    establishment_id: Mapped[int] = mapped_column(
        ForeignKey("establishment.id", ondelete="CASCADE"), primary_key=True
    )


class Team(Base):
    """A team of one establishment; created by a `C` line, never deleted by CSV."""

    __tablename__ = "team"
    __table_args__ = (UniqueConstraint("establishment_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    establishment_id: Mapped[int] = mapped_column(ForeignKey("establishment.id"))
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]


class Account(Base):
    """A person: keyed by RPPS for a doctor, by Identifiant otherwise (`uid` in the directory)."""

    __tablename__ = "account"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)
    doctor: Mapped[bool] = mapped_column(Boolean)
    rpps: Mapped[str | None] = mapped_column(String(11), unique=True)
    nom: Mapped[str] = mapped_column(String(100))
    prenom: Mapped[str] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(254))
    # A scheme the directory verifies (`{ARGON2}…`, `{PBKDF2-SHA512}…`), handed over
    # unchanged, and only when profilesync sets the password (SPEC §4).
    password_hash: Mapped[str] = mapped_column(String(255))
    password_set_at: Mapped[datetime]
    # True from a password set here (creation, reset, operator) until the push wrote it;
    # cleared only if password_set_at is still the one pushed (a newer reset stays due).
    password_pending: Mapped[bool] = mapped_column(Boolean, default=False)
    # When the directory's own record says the password was last changed (pwdChangedTime,
    # or 389's passwordExpirationTime minus the maximum age), as the push last read it.
    directory_password_at: Mapped[datetime | None] = mapped_column(default=None)
    # True when no profile is active: the directory entry is locked (ppolicy).
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


@event.listens_for(Account.password_hash, "set")
def _new_password_is_pending(target: Account, value: str, old: object, _initiator: object) -> None:
    """A hash set through the ORM (an operator's change) is a password profilesync sets:
    the push must write it (SPEC §4). The importer's bulk flush sets the flag itself.
    The caller also sets `password_set_at`: a directory change after it wins."""
    if value != old:
        target.password_pending = True


class ProfileState(StrEnum):
    PENDING = "pending"  # début not reached yet
    ACTIVE = "active"
    ENDED = "ended"  # fin passed
    DELETED = "deleted"  # `S` line


class Profile(Base):
    """(account, ET, rôle, équipe) plus its dates; `state` is kept in step by store and jobs."""

    __tablename__ = "profile"
    __table_args__ = (
        Index(
            "uq_profile_key",
            "account_id",
            "establishment_id",
            "role",
            text("coalesce(team_id, 0)"),
            unique=True,
        ),
        Index("ix_profile_establishment_state", "establishment_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    establishment_id: Mapped[int] = mapped_column(ForeignKey("establishment.id"))
    role: Mapped[str] = mapped_column(String(10))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("team.id"))
    debut: Mapped[date | None] = mapped_column(Date)
    fin: Mapped[date | None] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(10), index=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class RunStatus(StrEnum):
    """Where a run is: claimed → running → done, or rejected whole, or held for approval.

    The daemon gives up on a run after repeated internal errors (failed); `process_run`
    would still resume such a run, which is why "finished" and "settled" differ.
    """

    CLAIMED = "claimed"  # registered, nothing applied yet
    RUNNING = "running"  # lines being applied; resumes at the first line without outcome
    AWAITING_APPROVAL = "awaiting_approval"  # mass-delete safeguard
    DONE = "done"
    REJECTED = "rejected"  # the file as a whole (Ligne 0)
    FAILED = "failed"  # internal error; the file is kept for `rerun`

    @property
    def unfinished(self) -> bool:
        """To be processed (again): what the daemon drives into the importer."""
        return self in _UNFINISHED

    @property
    def finished(self) -> bool:
        """Nothing more will be applied: the daemon archives the file; it may be rerun."""
        return self in _FINISHED

    @property
    def settled(self) -> bool:
        """The importer's verdict is final: processing again only rewrites the report.

        Finished but for FAILED, which is the daemon's verdict, not the importer's.
        """
        return self in _SETTLED

    @property
    def whole_file(self) -> bool:
        """The report is one Ligne-0 row carrying the run's reason, no line outcomes."""
        return self in _WHOLE_FILE


_UNFINISHED = frozenset({RunStatus.CLAIMED, RunStatus.RUNNING})
_SETTLED = frozenset({RunStatus.DONE, RunStatus.REJECTED})
_FINISHED = _SETTLED | {RunStatus.FAILED}
_WHOLE_FILE = frozenset({RunStatus.REJECTED, RunStatus.AWAITING_APPROVAL, RunStatus.FAILED})


class RunFields(TypedDict):
    """What whoever registers a file says of it (the rest comes from its content)."""

    submitter: str
    file_name: str
    source: str  # cli | inbox | rerun | dry-run
    rerun_of: NotRequired[int | None]


class ImportRun(Base):
    """One submitted file: who, what (content hash), where it is, how it ended."""

    __tablename__ = "import_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    submitter: Mapped[str] = mapped_column(String(100), index=True)
    file_name: Mapped[str] = mapped_column(String(255))
    content_sha256: Mapped[str] = mapped_column(String(64), index=True)
    size_bytes: Mapped[int] = mapped_column(Integer, default=0)
    # Where the claimed file lives (state/work/…): unique, so one file is one run.
    work_path: Mapped[str | None] = mapped_column(String(1024), unique=True)
    archive_path: Mapped[str | None] = mapped_column(String(1024))
    private_copy_path: Mapped[str | None] = mapped_column(String(1024))
    report_path: Mapped[str | None] = mapped_column(String(1024))
    status: Mapped[str] = mapped_column(String(20), index=True)
    source: Mapped[str] = mapped_column(String(20), default="cli")  # cli | inbox | rerun
    reason: Mapped[str | None] = mapped_column(Text)
    rerun_of: Mapped[int | None] = mapped_column(ForeignKey("import_run.id"))
    total: Mapped[int] = mapped_column(Integer, default=0)
    ok: Mapped[int] = mapped_column(Integer, default=0)
    alerte: Mapped[int] = mapped_column(Integer, default=0)
    erreur: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    approved_by: Mapped[str | None] = mapped_column(String(100))

    # The lifecycle: every change of status goes through one of these, so the fields that
    # go with a status (reason, dates, counts) are set the same way by every caller.

    @classmethod
    def claimed(
        cls,
        *,
        digest: tuple[str, int],
        work_path: Path | None,
        report_path: Path,
        now: datetime,
        **fields: Unpack[RunFields],
    ) -> ImportRun:
        """A new run, nothing applied yet; `digest` is the content's (SHA-256, size)."""
        sha, size = digest
        return cls(
            content_sha256=sha,
            size_bytes=size,
            work_path=None if work_path is None else str(work_path),
            report_path=str(report_path),
            status=RunStatus.CLAIMED,
            created_at=now,
            **fields,
        )

    @property
    def run_status(self) -> RunStatus:
        return RunStatus(self.status)

    def hold(self, reason: str) -> None:
        """Stop before the first line: too many deletions, an operator must approve."""
        self.status = RunStatus.AWAITING_APPROVAL
        self.reason = reason

    def approve(self, approver: str) -> None:
        self.approved_by = approver
        self.status = RunStatus.CLAIMED
        self.reason = None

    def start(self, now: datetime) -> None:
        self.status = RunStatus.RUNNING
        self.started_at = now

    def complete(self, counts: Summary, now: datetime) -> None:
        self.total, self.ok, self.alerte, self.erreur = (
            counts.total,
            counts.ok,
            counts.alerte,
            counts.erreur,
        )
        self.status = RunStatus.DONE
        self.finished_at = now

    def reject(self, reason: str, now: datetime, status: RunStatus = RunStatus.REJECTED) -> None:
        """The file as a whole (Ligne 0): refused (rejected), or given up on (failed)."""
        self.status = status
        self.reason = reason
        self.finished_at = now

    def as_dict(self) -> dict[str, Any]:
        """The run as JSON-ready data: `runs --json`, `status` and the daemon's log line show
        a run with the same keys, so a script reading one can read the others."""
        duration = None
        if self.started_at is not None and self.finished_at is not None:
            duration = round((self.finished_at - self.started_at).total_seconds(), 3)
        return {
            "id": self.id,
            "submitter": self.submitter,
            "file": self.file_name,
            "status": self.status,
            "source": self.source,
            "created_at": self.created_at.isoformat(),
            "duration_seconds": duration,
            "total": self.total,
            "ok": self.ok,
            "alerte": self.alerte,
            "erreur": self.erreur,
            "reason": self.reason,
            "approved_by": self.approved_by,
            "report": self.report_path,
        }


class LineOutcome(Base):
    """The verdict on one line of a run, committed with the line's effect (exactly-once)."""

    __tablename__ = "line_outcome"

    run_id: Mapped[int] = mapped_column(
        ForeignKey("import_run.id", ondelete="CASCADE"), primary_key=True
    )
    line: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(10))
    # Messages joined by " | " as in the report; cells with the password masked (JSON list).
    messages: Mapped[str] = mapped_column(Text, default="")
    cells: Mapped[list[str]] = mapped_column(JSON)


class ActorKind(StrEnum):
    """Who made an audited change: a référent's file, an operator's command, or a job."""

    REFERENT = "referent"  # actor = the login whose file it was (run_id and line set)
    OPERATOR = "operator"  # actor = operator:<unix user>
    SYSTEM = "system"  # actor = profilesync:validity, directory-sync


class Audit(Base):
    """Who changed what, when, from which run and line. Never holds a secret.

    The exact content of a row is documented in docs/architecture.md (« Audit rows »):
    `undo` and `profilesync audit` both read it.
    """

    __tablename__ = "audit"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(100))
    actor_kind: Mapped[str] = mapped_column(String(10), server_default=ActorKind.SYSTEM.value)
    run_id: Mapped[int | None] = mapped_column(
        ForeignKey("import_run.id", ondelete="SET NULL"), index=True
    )
    line: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(40))
    entity: Mapped[str] = mapped_column(String(20))
    entity_key: Mapped[str] = mapped_column(String(200))
    # The account and profile concerned, as columns (filters, undo): account and profile
    # rows name the account; profile, team and establishment rows the ET; profile rows
    # their role and team (None: no team).
    account_key: Mapped[str | None] = mapped_column(String(100), index=True)
    et: Mapped[str | None] = mapped_column(String(9), index=True)
    role: Mapped[str | None] = mapped_column(String(10))
    team: Mapped[str | None] = mapped_column(String(200))
    # {"field": [old, new]}; a password change is recorded as {"password": "changed"}.
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ChangeKind(StrEnum):
    ACCOUNT = "account"  # make uid=<key> and its memberships look like the database
    ESTABLISHMENT = "establishment"  # make ou=<ET> with its teams/roles OUs exist


class DirectoryChange(Base):
    """A queued "make the directory look like the database for this key" (idempotent)."""

    __tablename__ = "directory_change"
    __table_args__ = (Index("ix_directory_change_due", "parked", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    key: Mapped[str] = mapped_column(String(100))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("import_run.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    parked: Mapped[bool] = mapped_column(Boolean, default=False)
    last_error: Mapped[str | None] = mapped_column(Text)


class DirectoryHealth(Base):
    """Whether the directory answered last time (one row): `status` shows an outage."""

    __tablename__ = "directory_health"

    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    # The first failure of the current outage; None once a bind succeeded.
    unreachable_since: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    last_ok_at: Mapped[datetime | None]


class JobLease(Base):
    """One row per scheduled job: who runs it now (lease) and how it last went."""

    __tablename__ = "job_lease"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    owner: Mapped[str | None] = mapped_column(String(200))
    expires_at: Mapped[datetime | None]
    last_started_at: Mapped[datetime | None]
    last_finished_at: Mapped[datetime | None]
    last_status: Mapped[str | None] = mapped_column(String(20))
    last_error: Mapped[str | None] = mapped_column(Text)
    last_summary: Mapped[str | None] = mapped_column(Text)
