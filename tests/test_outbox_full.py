"""A full outbox never loses a report (issue 9, SPEC §9): the lines commit, the report
waits, the file stays in work/ and is not archived, `status` says so; once space returns
the report is written from the database — and no line is applied twice.

The outbox is a real 256 KiB tmpfs filled to the last block (root only: CI runs as root).
"""

from __future__ import annotations

import errno
import logging
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from daemonkit import REFERENT, Inbox, account_row, report_rows
from fixtures_db import missing_backend
from profilesync.service import status


@pytest.fixture
def small_outbox(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        missing_backend("root, to mount a small tmpfs as a full outbox")
    mount = tmp_path / "outbox"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(mount: Path, leave: int = 0) -> Path:
    """Write until the filesystem says ENOSPC (a disk as full as a real one gets), then give
    back `leave` bytes: room for a report's first page, not for all of it."""
    filler = mount / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        with pytest.raises(OSError) as stopped:
            while True:
                os.write(fd, b"\0" * 4096)
        assert stopped.value.errno == errno.ENOSPC
        if leave:
            os.ftruncate(fd, os.fstat(fd).st_size - leave)
    finally:
        os.close(fd)
    if leave:
        return filler
    with pytest.raises(OSError) as full:
        (mount / "probe").write_bytes(b"\0" * 8192)
    assert full.value.errno == errno.ENOSPC
    (mount / "probe").unlink(missing_ok=True)
    return filler


@pytest.fixture
def box(db_url: str, tmp_path: Path, small_outbox: Path) -> Iterator[Inbox]:
    world = Inbox(db_url, tmp_path, paths={"outbox": small_outbox})
    (small_outbox / REFERENT).mkdir()
    yield world
    world.close()


def waiting(box: Inbox) -> int:
    return status.gather(box.settings, box.sf, box.clock).reports_waiting


def test_a_full_outbox_before_the_first_line_applies_nothing_until_space_returns(
    box: Inbox, small_outbox: Path
) -> None:
    filler = fill(small_outbox)
    box.drop("a.csv", [account_row(1), account_row(2)])
    box.settle()
    assert box.scalar("SELECT count(*) FROM account") == 0
    assert list((small_outbox / REFERENT).iterdir()) == []  # no temporary file left
    [run] = box.runs()
    assert run.status == "claimed" and Path(run.work_path).is_file()
    filler.unlink()
    box.settle()
    [report] = box.reports()
    assert [r[:2] for r in report_rows(report)[1:]] == [["2", "OK"], ["3", "OK"]]
    assert box.scalar("SELECT count(*) FROM account") == 2


def test_a_report_that_cannot_be_finished_waits_and_no_line_is_applied_twice(
    box: Inbox, small_outbox: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The issue's case: the lines commit, then the report's end does not fit."""
    filler = fill(small_outbox, leave=8192)
    box.drop("a.csv", [account_row(n) for n in range(1, 201)])
    with caplog.at_level(logging.WARNING, logger="profilesync.service.driver"):
        box.settle()
    assert box.scalar("SELECT count(*) FROM account") == 200  # the lines committed
    # No report, no temporary file: only the template (issue 10), written while it fitted.
    assert [p.name for p in (small_outbox / REFERENT).iterdir()] == ["modele.csv"]
    [run] = box.runs()
    assert run.status == "done" and run.archive_path is None
    assert Path(run.work_path).is_file()  # still in work/, not archived
    assert waiting(box) == 1
    shown = status.render_health(status.gather(box.settings, box.sf, box.clock), ZoneInfo("UTC"))
    assert "reports waiting for delivery: 1 (the outbox is full" in shown
    assert any("its report cannot be written" in r.getMessage() for r in caplog.records)
    audits = box.scalar("SELECT count(*) FROM audit")

    box.settle()  # still full: still waiting, nothing applied again
    assert waiting(box) == 1
    assert box.scalar("SELECT count(*) FROM audit") == audits

    filler.unlink()  # the operator frees space
    box.settle()
    [report] = box.reports()
    rows = report_rows(report)[1:]
    assert len(rows) == 200 and {r[1] for r in rows} == {"OK"}
    [run] = box.runs()
    assert run.archive_path is not None and not Path(run.work_path).exists()
    assert waiting(box) == 0
    assert box.scalar("SELECT count(*) FROM audit") == audits
    assert box.scalar("SELECT count(*) FROM account") == 200


def test_a_whole_file_refusal_waits_for_space_too(box: Inbox, small_outbox: Path) -> None:
    filler = fill(small_outbox)
    box.drop("racine.csv", [account_row(1)], login=None)
    box.settle()
    [run] = box.runs()
    assert run.status == "claimed"  # refused only once its report is in place
    assert not list(small_outbox.glob("*.rapport.csv"))
    filler.unlink()
    box.settle()
    [report] = box.reports(login=None)
    assert report_rows(report)[1][:2] == ["0", "ERREUR"]
    assert box.runs()[0].status == "rejected"
