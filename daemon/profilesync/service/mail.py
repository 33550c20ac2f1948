"""Email to a référent when something happened to their file (issue 10).

A référent otherwise learns that a report is ready only by looking in the outbox. The
message says which file, what became of it (the summary line) and the report's name —
never a line of the report nor a password: mail leaves the establishment's network, the
outbox does not. Sending is best effort: a run is finished before anyone is told, a send
that fails is logged (one WARNING while the server stays unreachable, then DEBUG) and
never retried, delayed or allowed to fail the run.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from enum import StrEnum
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from profilesync.config import ConfigError, NotifySettings
from profilesync.fileformat.outcome import Summary
from profilesync.store.model import ImportRun, Referent, RunStatus

log = logging.getLogger(__name__)


class Event(StrEnum):
    REPORT = "report"  # the daemon finished a file: its report is in the outbox
    HELD = "held"  # the mass-deletion guard holds it for the IT team
    APPROVED = "approved"  # the IT team approved it: the real report is there
    REFUSED = "refused"  # the IT team refused it: the report says why


_SUBJECTS = {
    Event.REPORT: "Rapport disponible",
    Event.HELD: "Fichier en attente de validation",
    Event.APPROVED: "Fichier validé, rapport disponible",
    Event.REFUSED: "Fichier refusé",
}


@dataclass(frozen=True)
class Notice:
    to: str
    subject: str
    body: str


def _outcome(run: ImportRun, event: Event) -> str:
    status = run.run_status
    if event is Event.HELD:
        return (
            "il attend la validation de votre équipe informatique, car il supprimerait une "
            "grande part des profils ; aucune ligne n'a été appliquée"
        )
    if event is Event.REFUSED:
        return "votre équipe informatique l'a refusé ; aucune ligne n'a été appliquée"
    if status is RunStatus.DONE:
        return Summary(ok=run.ok, alerte=run.alerte, erreur=run.erreur).line()
    return "le fichier n'a pas été traité (voir la ligne 0 du rapport) ; rien n'a été appliqué"


def notice(run: ImportRun, to: str, event: Event) -> Notice:
    """The message for `run`: file name, outcome, report name; nothing of the content."""
    report = Path(run.report_path or "").name
    body = "\n".join(
        (
            "Bonjour,",
            "",
            f"Votre fichier « {run.file_name} » : {_outcome(run, event)}.",
            f"Rapport : {report}, dans votre dossier de rapports.",
            "",
            "Ce message automatique ne contient aucune donnée des profils : ouvrez le "
            "rapport pour le détail de chaque ligne.",
        )
    )
    return Notice(to, f"{_SUBJECTS[event]} : {run.file_name}", body + "\n")


def _credentials(settings: NotifySettings) -> tuple[str, str] | None:
    """(user, password) from the credentials file: never from the TOML itself."""
    if not settings.credentials_file:
        return None
    try:
        text = Path(settings.credentials_file).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot read [notify] credentials_file {settings.credentials_file}: {exc.strerror}"
        ) from None
    user, _, rest = text.partition("\n")
    password = rest.splitlines()[0] if rest.strip() else ""
    if not user.strip() or not password:
        raise ConfigError(
            f"[notify] credentials_file {settings.credentials_file}: the user on the first "
            "line, the password on the second"
        )
    return user.strip(), password


class Mailer:
    """One per process: it remembers whether the server was reachable last time."""

    def __init__(self, settings: NotifySettings) -> None:
        self.settings = settings
        self._failing = False

    @property
    def enabled(self) -> bool:
        return bool(self.settings.host)

    def send(self, message: Notice) -> bool:
        """Send `message`; False (logged, never raised) when it could not be."""
        if not self.enabled:
            return False
        s = self.settings
        mail = EmailMessage()
        mail["From"] = s.sender
        mail["To"] = message.to
        mail["Subject"] = message.subject
        mail["Date"] = formatdate(localtime=True)
        mail["Message-ID"] = make_msgid(domain=s.sender.rpartition("@")[2] or None)
        mail.set_content(message.body)
        try:
            with smtplib.SMTP(s.host, s.port, timeout=s.timeout_seconds) as smtp:
                if s.starttls:
                    context = ssl.create_default_context(cafile=s.ca_file or None)
                    smtp.starttls(context=context)
                login = _credentials(s)
                if login is not None:
                    smtp.login(*login)
                smtp.send_message(mail)
        except (OSError, smtplib.SMTPException, ConfigError) as exc:
            level = logging.DEBUG if self._failing else logging.WARNING
            self._failing = True
            log.log(
                level,
                "email to %s not sent (%s:%s): %s: %s; the run is not affected",
                message.to,
                s.host,
                s.port,
                type(exc).__name__,
                exc,
            )
            return False
        if self._failing:
            log.info("email sent again through %s:%s", s.host, s.port)
            self._failing = False
        return True

    def notify_run(self, session_factory: sessionmaker[Session], run_id: int, event: Event) -> bool:
        """Tell the submitter of `run_id` what became of it, if they have an address."""
        if not self.enabled:
            return False
        try:
            with session_factory() as session:
                run = session.get(ImportRun, run_id)
                to = (
                    None
                    if run is None
                    else session.scalar(
                        sa.select(Referent.email).where(Referent.login == run.submitter)
                    )
                )
                if run is None or not to:
                    return False
                message = notice(run, to, event)
        except sa.exc.OperationalError as exc:
            log.warning("email about run %s not sent: database unavailable (%s)", run_id, exc)
            return False
        return self.send(message)


def event_of(status: str) -> Event:
    """What the daemon tells after processing a file: held, or its report is there."""
    return Event.HELD if status == RunStatus.AWAITING_APPROVAL else Event.REPORT
