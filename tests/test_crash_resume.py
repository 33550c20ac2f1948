"""Exactly-once across a crash: `import` SIGKILLed mid-file, then resumed by `process_run`."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from clikit import cli_command, write_config
from importkit import REFERENT, World, canonical_dump, letters, row, write_csv
from profilesync.clock import SystemClock
from profilesync.config import Settings
from profilesync.fileformat.outcome import Code
from profilesync.fileformat.report import read_report
from profilesync.store import db
from profilesync.store.importer import import_file, process_run
from profilesync.store.model import RunStatus

N_CREATE, N_MODIFY, N_DELETE = 2000, 500, 500
TOTAL = N_CREATE + N_MODIFY + N_DELETE


def _rows() -> list[list[str]]:
    """Later lines depend on earlier ones, across many batches."""
    pw = "Correct-Horse-42"
    out = [
        row("C", f"Nom{letters(i)}", "Pré", ident=f"u{i:05d}", password=pw) for i in range(N_CREATE)
    ]
    out += [
        row("M", f"Nom{letters(i)}", "Pré", ident=f"u{i:05d}", email=f"u{i}@mssante.fr")
        for i in range(N_MODIFY)
    ]
    out += [row("S", f"Nom{letters(i)}", "Pré", ident=f"u{i:05d}") for i in range(N_DELETE)]
    return out


def _count(engine: sa.Engine) -> int:
    # A plain engine: db.make_engine's SQLite connections BEGIN IMMEDIATE, which would queue
    # the poller behind the importer's write lock instead of reading the WAL snapshot.
    with engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM line_outcome")).scalar_one())


@pytest.mark.slow
def test_sigkill_mid_file_then_resume_equals_a_clean_run(db_url: str, tmp_path: Path) -> None:
    from importkit import fast_settings

    crash_dir = tmp_path / "crash"
    crash_dir.mkdir()
    config = write_config(
        crash_dir,
        database={"url": db_url, "batch_size": 50},
        # Dearer than CHEAP_ARGON2: slower C lines keep the import running until it is killed.
        passwords={"argon2_memory_kib": 512},
        imports={"mass_delete_min": 1_000_000},
    )
    settings: Settings = fast_settings(crash_dir).with_overrides(
        database={"url": db_url, "batch_size": 50},
        imports={"mass_delete_min": 1_000_000},
    )
    world = World(db_url, crash_dir, settings)
    csv_path = write_csv(tmp_path / "big.csv", _rows())
    report = tmp_path / "big.rapport.csv"
    poller = sa.create_engine(db_url)
    proc = subprocess.Popen(
        [
            *cli_command(),
            "import",
            str(csv_path),
            "--as",
            REFERENT,
            "--config",
            str(config),
            "--report",
            str(report),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PROFILESYNC_CONFIG": ""},
    )
    try:
        deadline = time.monotonic() + 120
        while _count(poller) < 400:  # polling only: the kill point is whatever it is
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        if proc.stderr:
            proc.stderr.close()
    done_at_kill = _count(poller)
    poller.dispose()
    assert 400 <= done_at_kill < TOTAL
    ((run_id, status),) = world.rows("SELECT id, status FROM import_run")
    assert status == RunStatus.RUNNING
    assert not report.exists()

    result = process_run(run_id, settings=settings, session_factory=world.sf, clock=SystemClock())
    assert result.status is RunStatus.DONE
    assert (result.summary.ok, result.summary.erreur) == (TOTAL, 0)
    lines = [r[0] for r in world.rows("SELECT line FROM line_outcome ORDER BY line")]
    assert lines == list(range(2, TOTAL + 2))  # every line exactly once
    written = read_report(report)
    assert [o.line for o in written] == lines and all(o.code is Code.OK for o in written)
    world.close()

    clean_url = f"sqlite:///{tmp_path / 'clean.db'}"
    db.upgrade(clean_url)
    clean = World(clean_url, tmp_path / "clean", settings)
    (tmp_path / "clean").mkdir()
    import_file(
        csv_path,
        REFERENT,
        settings=settings,
        session_factory=clean.sf,
        clock=SystemClock(),
        report_path=tmp_path / "clean.rapport.csv",
    )
    clean.close()
    assert canonical_dump(db_url) == canonical_dump(clean_url)
    assert report.read_bytes() == (tmp_path / "clean.rapport.csv").read_bytes()
