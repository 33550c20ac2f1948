"""The directory_sync job against a real slapd: its log level says whether it did anything."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from fixtures_ldap import T0, World
from profilesync import config
from profilesync.clock import FixedClock
from profilesync.service.jobs import JobContext, run_leased

ET = "750000001"


def test_directory_sync_logs_info_when_it_pushed_and_debug_when_idle(
    *,
    world: World,
    sessions: sessionmaker[Session],
    ldap_config: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ctx = JobContext(config.load(ldap_config, environ={}), sessions, FixedClock(T0), "test:1")
    world.establishment(ET)
    world.account("dave", profiles=((ET, "CDC1", None, "active"),))
    caplog.set_level(logging.DEBUG, logger="profilesync.service.jobs")

    def job_records() -> list[tuple[int, str]]:
        return [
            (r.levelno, r.getMessage())
            for r in caplog.records
            if r.name == "profilesync.service.jobs"
        ]

    assert run_leased("directory_sync", ctx, force=True).status == "ok"
    [(level, message)] = job_records()
    assert level == logging.INFO
    assert message.endswith(": 2 change(s) pushed (2 key(s)), 0 retried later, 0 parked")
    caplog.clear()
    assert run_leased("directory_sync", ctx, force=True).status == "ok"
    [(level, message)] = job_records()
    assert level == logging.DEBUG
    assert message.endswith(": 0 change(s) pushed (0 key(s)), 0 retried later, 0 parked")
