"""Issue 10: the référent is told by email, through a real SMTP server (aiosmtpd).

A file dropped, the daemon run in burst mode, the message read from the server: headers,
the summary line and the report's name, and nothing of the file's content nor a password.
"""

from __future__ import annotations

import email
import logging
import socket
import ssl
import subprocess
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage, Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from clikit import run_cli, write_config
from daemonkit import GOOD_PW, REFERENT, Inbox, account_row, hold_mass_delete
from profilesync.config import NotifySettings
from profilesync.service.mail import Mailer, Notice

SMTP_USER, SMTP_PASSWORD = "robot", "Smtp-Secret-93"
ADDRESS = "referent@ch-exemple.fr"
SENDER = "profilesync@ch-exemple.fr"


class Collect:
    """An aiosmtpd handler keeping every message and who logged in to send it."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.raw: list[bytes] = []
        self.logins: list[bytes] = []

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        self.raw.append(envelope.content)
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"

    def authenticate(self, _s: Any, _session: Any, _e: Any, _m: str, data: Any) -> AuthResult:
        ok = data.login == SMTP_USER.encode() and data.password == SMTP_PASSWORD.encode()
        if ok:
            self.logins.append(data.login)
        return AuthResult(success=ok, handled=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def credentials(tmp_path: Path) -> Path:
    path = tmp_path / "smtp-credentials"
    path.write_text(f"{SMTP_USER}\n{SMTP_PASSWORD}\n", encoding="utf-8")
    path.chmod(0o600)
    return path


def _serve(collect: Collect, **kw: Any) -> Controller:
    controller = Controller(
        collect, hostname="127.0.0.1", port=_free_port(), authenticator=collect.authenticate, **kw
    )
    controller.start()
    return controller


@pytest.fixture
def smtp() -> Iterator[tuple[Collect, int]]:
    collect = Collect()
    controller = _serve(collect, auth_require_tls=False)
    try:
        yield collect, controller.port
    finally:
        controller.stop()


def _world(db_url: str, tmp: Path, notify: dict[str, Any]) -> Inbox:
    box = Inbox(db_url, tmp, notify={"sender": SENDER, **notify})
    with box.engine.begin() as conn:
        conn.exec_driver_sql(f"UPDATE referent SET email = '{ADDRESS}'")
    return box


@pytest.fixture
def mailbox(
    db_url: str, tmp_path: Path, smtp: tuple[Collect, int], credentials: Path
) -> Iterator[tuple[Inbox, Collect]]:
    collect, port = smtp
    box = _world(
        db_url,
        tmp_path,
        {"host": "127.0.0.1", "port": port, "credentials_file": str(credentials)},
    )
    yield box, collect
    box.close()


def _cli(box: Inbox, *args: str) -> Any:
    """The real CLI with the daemon's own [notify] settings."""
    n = box.settings.notify
    notify = {"host": n.host, "port": n.port, "sender": n.sender}
    config = write_config(
        box.tmp,
        database={"url": box.url},
        notify={**notify, "credentials_file": n.credentials_file},
    )
    return run_cli(*args, config=config)


def _text(message: Message) -> str:
    assert isinstance(message, EmailMessage)
    return str(message.get_content())


def test_a_report_ready_is_told_by_email_without_any_content(
    mailbox: tuple[Inbox, Collect],
) -> None:
    box, collect = mailbox
    box.drop("creation.csv", [account_row(1), account_row(2, email="x@nowhere.org")])
    box.settle()
    [message] = collect.messages
    assert message["From"] == SENDER
    assert message["To"] == ADDRESS
    assert message["Subject"] == "Rapport disponible : creation.csv"
    [report] = box.reports()
    body = _text(message)
    assert "2 lignes : 1 OK, 1 ALERTE, 0 ERREUR" in body
    assert f"Rapport : {report.name}, dans votre dossier de rapports." in body
    raw = collect.raw[0].decode("utf-8", "replace") + body + str(message)
    for secret_or_cell in (GOOD_PW, SMTP_PASSWORD, "Nomb", "Prenomc", "user1", "nowhere.org"):
        assert secret_or_cell not in raw
    assert collect.logins == [SMTP_USER.encode()]


def test_held_then_refused_files_are_told_by_email(mailbox: tuple[Inbox, Collect]) -> None:
    box, collect = mailbox
    run_id = hold_mass_delete(box).id
    assert [m["Subject"] for m in collect.messages][1:] == [
        "Fichier en attente de validation : suppression.csv"
    ]
    assert "aucune ligne n'a été appliquée" in _text(collect.messages[1])
    res = _cli(box, "reject", str(run_id), "--reason", "trop de suppressions")
    assert res.exit_code == 0, res.output
    assert collect.messages[-1]["Subject"] == "Fichier refusé : suppression.csv"
    assert "trop de suppressions" not in collect.raw[-1].decode()  # the report says why
    assert box.settle().files == []
    assert len(collect.messages) == 3


def test_an_approved_file_is_told_by_email(mailbox: tuple[Inbox, Collect]) -> None:
    box, collect = mailbox
    run_id = hold_mass_delete(box).id
    res = _cli(box, "approve", str(run_id))
    assert res.exit_code == 0, res.output
    assert collect.messages[-1]["Subject"] == "Fichier validé, rapport disponible : suppression.csv"
    assert "12 lignes : 12 OK, 0 ALERTE, 0 ERREUR" in _text(collect.messages[-1])
    box.settle()  # the daemon archives the approved file: the référent is not told again
    assert len(collect.messages) == 3


def test_no_email_without_an_address_or_without_a_host(
    db_url: str, tmp_path: Path, smtp: tuple[Collect, int]
) -> None:
    collect, port = smtp
    box = Inbox(db_url, tmp_path, notify={"host": "127.0.0.1", "port": port})
    box.drop("creation.csv", [account_row(1)])
    box.settle()
    assert collect.messages == []  # the référent has no address
    box.close()
    off = Mailer(NotifySettings())
    assert not off.enabled
    assert off.send(Notice(ADDRESS, "s", "b")) is False
    assert collect.messages == []


def test_a_mail_server_down_costs_one_warning_and_no_run(
    db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    box = _world(db_url, tmp_path, {"host": "127.0.0.1", "port": _free_port()})
    caplog.set_level(logging.DEBUG, logger="profilesync")
    box.drop("un.csv", [account_row(1)])
    box.drop("deux.csv", [account_row(2)])
    box.settle()
    assert [r.status for r in box.runs()] == ["done", "done"]
    assert len(box.reports()) == 2
    warnings = [r for r in caplog.records if r.name == "profilesync.service.mail"]
    assert [r.levelno for r in warnings] == [logging.WARNING, logging.DEBUG]
    assert "not sent" in warnings[0].getMessage()
    box.close()


def _certificate(folder: Path) -> tuple[Path, Path]:
    key, cert = folder / "smtp.key", folder / "smtp.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return key, cert


def test_starttls_with_a_verified_certificate_then_login(
    db_url: str, tmp_path: Path, credentials: Path
) -> None:
    key, cert = _certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    collect = Collect()
    controller = _serve(collect, tls_context=context, require_starttls=True)
    try:
        notify = {
            "host": "127.0.0.1",
            "port": controller.port,
            "starttls": True,
            "ca_file": str(cert),
            "credentials_file": str(credentials),
        }
        box = _world(db_url, tmp_path, notify)
        box.drop("creation.csv", [account_row(1)])
        box.settle()
        [message] = collect.messages
        assert message["Subject"] == "Rapport disponible : creation.csv"
        assert collect.logins == [SMTP_USER.encode()]
        box.close()
    finally:
        controller.stop()
    assert REFERENT  # the world's référent is the one told


def test_check_config_warns_of_a_credentials_file_others_can_read(
    db_url: str, tmp_path: Path, credentials: Path
) -> None:
    credentials.chmod(0o644)
    config = write_config(
        tmp_path, database={"url": db_url}, notify={"credentials_file": str(credentials)}
    )
    out = run_cli("check-config", config=config).output
    assert (
        f"WARN [notify] credentials file: {credentials} is readable by every user: "
        f"chmod 600 {credentials}"
    ) in out.splitlines()
    assert SMTP_PASSWORD not in out
