"""Helpers of the daemon tests: a registered world, and an inbox to drop files into."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from importkit import EJ1, ET1, GOOD_PW, REFERENT, T0, fast_settings, letters, row, write_csv
from profilesync.clock import FixedClock
from profilesync.config import Settings
from profilesync.service.daemon import Daemon
from profilesync.store import db
from profilesync.store.model import Establishment, Referent, ReferentEstablishment

__all__ = ["EJ1", "ET1", "GOOD_PW", "REFERENT", "T0", "row", "write_csv"]


class FakeMonotonic:
    """A monotonic clock for the stability check: moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Inbox:
    """A registered world (one ET, one référent) plus a daemon driven by `run_once`."""

    def __init__(self, url: str, tmp: Path, **overrides: Any) -> None:
        self.url = url
        self.tmp = tmp
        self.settings: Settings = fast_settings(tmp).with_overrides(
            database={"url": url}, **overrides
        )
        self.clock = FixedClock(T0)
        self.mono = FakeMonotonic()
        self.engine = db.make_engine(url)
        self.sf = db.session_factory(self.engine)
        with self.sf() as s:
            if s.scalar(sa.select(sa.func.count()).select_from(Referent)) == 0:
                est = Establishment(et=ET1, ej=EJ1, name="Pitié", created_at=T0)
                ref = Referent(login=REFERENT, created_at=T0)
                s.add_all([est, ref])
                s.flush()
                s.add(ReferentEstablishment(referent_id=ref.id, establishment_id=est.id))
                s.commit()
        self.daemon = self.new_daemon()

    def new_daemon(self) -> Daemon:
        return Daemon(self.settings, self.sf, clock=self.clock, monotonic=self.mono)

    @property
    def inbox(self) -> Path:
        return self.settings.paths.inbox

    @property
    def outbox(self) -> Path:
        return self.settings.paths.outbox

    @property
    def state(self) -> Path:
        return self.settings.paths.state

    def folder(self, login: str | None = REFERENT) -> Path:
        path = self.inbox / login if login else self.inbox
        path.mkdir(parents=True, exist_ok=True)
        return path

    def drop(self, name: str, rows: Iterable[Sequence[str]], login: str | None = REFERENT) -> Path:
        return write_csv(self.folder(login) / name, rows)

    def settle(self) -> Any:
        """Two looks `stable_seconds` apart: what the daemon does for a file left alone."""
        self.daemon.run_once()
        self.mono.advance(self.settings.daemon.stable_seconds)
        return self.daemon.run_once()

    def reports(self, login: str | None = REFERENT) -> list[Path]:
        folder = self.outbox / login if login else self.outbox
        return sorted(folder.glob("*.rapport.csv")) if folder.is_dir() else []

    def runs(self) -> list[Any]:
        with self.engine.connect() as conn:
            return list(
                conn.execute(
                    sa.text(
                        "SELECT id, submitter, file_name, status, total, ok, alerte, erreur, "
                        "reason, archive_path, private_copy_path, work_path, report_path, "
                        "source, rerun_of FROM import_run ORDER BY id"
                    )
                )
            )

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(sa.text(sql), params).scalar()

    def close(self) -> None:
        self.engine.dispose()


@pytest.fixture
def box(db_url: str, tmp_path: Path) -> Iterator[Inbox]:
    """A registered world and its daemon, driven by `run_once` (the daemon tests' fixture)."""
    world = Inbox(db_url, tmp_path)
    yield world
    world.close()


def report_rows(path: Path) -> list[list[str]]:
    text = path.read_bytes().decode("utf-8-sig")
    return [r for r in csv.reader(io.StringIO(text, newline=""), delimiter=";")]


def account_row(n: int, password: str = GOOD_PW, **kw: Any) -> list[str]:
    """A valid C line for a non-doctor `user<n>`."""
    return row(
        "C", f"Nom{letters(n)}", f"Prenom{letters(n)}", ident=f"user{n}", password=password, **kw
    )


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def env_for_subprocess(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra)
    return env


def hold_mass_delete(box: Inbox, n: int = 12) -> Any:
    """Create n accounts, then drop `suppression.csv` deleting them all: the mass-deletion
    guard holds it. The held run's row."""
    box.drop("creation.csv", [account_row(i) for i in range(n)])
    box.settle()
    box.drop(
        "suppression.csv",
        [row("S", f"Nom{letters(i)}", f"Prenom{letters(i)}", ident=f"user{i}") for i in range(n)],
    )
    [held] = box.settle().files
    assert held.status == "awaiting_approval"
    return box.runs()[-1]
