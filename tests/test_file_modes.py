"""Nothing profilesync writes is readable by every user (issue 8 point 6), whatever the
umask it was started with: reports, exports, archives are at most group-readable, the
database and `state/` are the service user's alone.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from daemonkit import ET1, Inbox, account_row
from profilesync import filemodes
from profilesync.store.exports import export_establishment


@pytest.fixture
def lax_umask() -> Iterator[None]:
    """The worst case: a process started with umask 0 (everything world-writable)."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_nothing_is_world_readable_even_under_umask_0(
    db_url: str, tmp_path: Path, lax_umask: None
) -> None:
    box = Inbox(db_url, tmp_path)
    try:
        box.drop("a.csv", [account_row(1)])
        [done] = box.settle().files
        assert done.status == "done"
        [run] = box.runs()
        export = export_establishment(box.sf, ET1, None, box.clock, outbox=box.outbox).path
        files = {
            "report": Path(run.report_path),
            "archive": Path(run.archive_path),
            "export": export,
        }
        for name, path in files.items():
            assert mode(path) & 0o007 == 0, (name, oct(mode(path)))
            assert mode(path) & 0o640 == 0o640, (name, oct(mode(path)))  # the share reads it
        assert mode(box.state) == 0o700
        if not db_url.startswith("sqlite:///"):
            return
        database = Path(db_url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            path = Path(f"{database}{suffix}")
            if path.exists():
                assert mode(path) == 0o600, (path.name, oct(mode(path)))
    finally:
        box.close()


def test_an_existing_state_folder_open_to_all_is_narrowed(db_url: str, tmp_path: Path) -> None:
    (tmp_path / "state").mkdir(mode=0o777)
    (tmp_path / "state").chmod(0o777)
    box = Inbox(db_url, tmp_path)
    box.close()
    assert mode(tmp_path / "state") == 0o700


def test_the_console_script_adds_027_to_the_umask(tmp_path: Path) -> None:
    """`profilesync …` started under umask 0 still creates nothing open to every user: the
    folder `db upgrade` makes for a new SQLite file gets 0o777 less the tightened umask."""
    database = tmp_path / "new" / "p.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROFILESYNC_")}
    env["PROFILESYNC_DATABASE_URL"] = f"sqlite:///{database}"
    subprocess.run(
        [sys.executable, "-c", "from profilesync.cli import main; main()", "db", "upgrade"],
        check=True,
        capture_output=True,
        env=env,
        preexec_fn=lambda: os.umask(0),
    )
    assert mode(database.parent) == 0o777 & ~filemodes.UMASK_BITS == 0o750
    assert mode(database) == 0o600


def test_the_unit_sets_the_same_umask() -> None:
    unit = (Path(__file__).resolve().parents[1] / "systemd" / "profilesync.service").read_text()
    assert f"UMask={filemodes.UMASK_BITS:04o}" in unit.splitlines()
