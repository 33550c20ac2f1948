"""The daemon end to end through `run_once`: files dropped, reports, archives, the database.

No sleeps: the stability check runs on an injected monotonic clock (`Inbox.mono`), and the
run timestamps on a `FixedClock`.
"""

from __future__ import annotations

import stat
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from daemonkit import (
    GOOD_PW,
    REFERENT,
    Inbox,
    account_row,
    hold_mass_delete,
    report_rows,
    write_csv,
)
from profilesync.fileformat import messages
from profilesync.fileformat.columns import COLUMNS
from profilesync.service.jobs import JobContext, run_job
from profilesync.service.rerun import RerunUnavailable, rerun
from profilesync.store.importer import RunBusy, approve_run

STAMP = "2026-03-15_11h00"  # daemonkit's FixedClock, 2026-03-15 10:00 UTC, in Paris time
REPORT_HEADER = ["Ligne", "Code", "Message", *COLUMNS]


def test_a_dropped_file_is_applied_reported_archived_masked_and_kept_privately(
    box: Inbox,
) -> None:
    dropped = box.drop("profils.csv", [account_row(1), account_row(2)])
    box.daemon.run_once()
    assert dropped.exists(), "read before it was known to be complete"
    result = box.settle()

    assert [(f.status, f.file_name, f.submitter) for f in result.files] == [
        ("done", "profils.csv", REFERENT)
    ]
    assert not dropped.exists()
    [report] = box.reports()
    assert report.name == f"profils.{STAMP}.rapport.csv"
    rows = report_rows(report)
    assert rows[0] == REPORT_HEADER
    assert [(r[0], r[1]) for r in rows[1:]] == [("2", "OK"), ("3", "OK")]
    assert all(r[3 + 9] == "***" for r in rows[1:])
    assert box.scalar("SELECT count(*) FROM account WHERE key IN ('user1', 'user2')") == 2

    [run] = box.runs()
    assert (run.status, run.total, run.ok, run.source) == ("done", 2, 2, "inbox")
    archive = Path(run.archive_path)
    private = Path(run.private_copy_path)
    assert archive.parent == box.state.resolve() / "archive" / REFERENT
    assert GOOD_PW.encode() not in archive.read_bytes()
    assert archive.read_bytes().count(b";***;") == 2
    assert private.read_bytes() == archive.read_bytes().replace(b"***", GOOD_PW.encode())
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert stat.S_IMODE(private.parent.stat().st_mode) == 0o700
    assert not Path(run.work_path).exists()
    assert list((box.state / "work").rglob("*")) == [box.state.resolve() / "work" / REFERENT]


def test_a_slow_writer_is_not_read_before_its_file_is_stable(box: Inbox) -> None:
    path = box.folder() / "lent.csv"
    lines = [";".join(account_row(n)) + "\r\n" for n in range(1, 4)]
    for line in lines:
        with path.open("a", encoding="utf-8") as fh:
            fh.write(line)
        assert box.daemon.run_once().files == []
        box.mono.advance(box.settings.daemon.stable_seconds - 0.5)
    assert box.daemon.run_once().files == []  # the last chunk is 1.5 s old: not yet
    box.mono.advance(0.5)
    [done] = box.daemon.run_once().files
    assert (done.status, box.runs()[0].total) == ("done", 3)


def test_partial_copies_and_excel_locks_are_left_alone_and_a_renamed_file_is_taken(
    box: Inbox,
) -> None:
    folder = box.folder()
    lock = folder / "~$profils.csv"
    lock.write_bytes(b"\x00excel lock")
    part = write_csv(folder / "profils.csv.part", [account_row(1)])
    tmp = folder / "profils.tmp"
    tmp.write_text("x")
    hidden = write_csv(folder / ".profils.csv", [account_row(2)])
    assert box.settle().files == []
    part.rename(folder / "profils.csv")  # the copy finished
    [done] = box.settle().files
    assert done.file_name == "profils.csv"
    assert lock.exists() and tmp.exists() and hidden.exists()
    assert len(box.runs()) == 1


def test_a_file_at_the_inbox_root_is_rejected_whole_with_a_ligne_0_report(box: Inbox) -> None:
    box.drop("racine.csv", [account_row(1)], login=None)
    [done] = box.settle().files
    assert done.status == "rejected"
    [report] = box.reports(login=None)
    assert report.name == f"racine.{STAMP}.rapport.csv"
    assert report_rows(report)[1][:3] == ["0", "ERREUR", messages.FILE_AT_INBOX_ROOT]
    assert box.scalar("SELECT count(*) FROM account") == 0
    [run] = box.runs()
    assert (run.status, run.submitter, run.reason) == ("rejected", "", messages.FILE_AT_INBOX_ROOT)
    assert Path(run.archive_path).parent.name == ".root"
    assert not list(box.inbox.glob("*.csv"))


def test_a_file_of_an_unknown_login_is_rejected_whole(box: Inbox) -> None:
    box.drop("x.csv", [account_row(1)], login="inconnu")
    [done] = box.settle().files
    assert done.status == "rejected"
    [report] = (box.state / "strangers" / "inconnu").glob("*.rapport.csv")
    assert report_rows(report)[1][:3] == ["0", "ERREUR", messages.unknown_submitter("inconnu")]
    assert not (box.outbox / "inconnu").exists()
    assert box.scalar("SELECT count(*) FROM account") == 0


def test_a_corrupt_file_is_rejected_and_the_next_file_still_processed(box: Inbox) -> None:
    (box.folder() / "a-binaire.csv").write_bytes(b"PK\x03\x04\x00\x00\x00\xff\xfe" * 50)
    box.drop("b-bon.csv", [account_row(1)])
    result = box.settle()
    assert sorted((f.file_name, f.status) for f in result.files) == [
        ("a-binaire.csv", "rejected"),
        ("b-bon.csv", "done"),
    ]
    binary = next(r for r in box.runs() if r.file_name == "a-binaire.csv")
    assert binary.archive_path is None  # cannot be masked: kept privately only
    assert Path(binary.private_copy_path).exists()
    assert len(box.reports()) == 2


def test_two_files_with_the_same_name_in_one_second_get_two_reports(box: Inbox) -> None:
    box.drop("m.csv", [account_row(1)])
    box.settle()
    box.drop("m.csv", [account_row(2)])
    box.settle()
    assert [p.name for p in box.reports()] == [
        f"m.{STAMP}-2.rapport.csv",
        f"m.{STAMP}.rapport.csv",
    ]


def test_rerun_processes_the_private_copy_as_a_new_run_until_it_expires(box: Inbox) -> None:
    box.drop("r.csv", [account_row(1)])
    box.settle()
    [first] = box.runs()
    again = rerun(box.daemon.driver, first.id)
    assert again.status == "done"
    second = box.runs()[1]
    assert (second.source, second.rerun_of, second.file_name) == ("rerun", first.id, "r.csv")
    rows = report_rows(Path(second.report_path))
    assert rows[1][1] == "ERREUR"  # the profile exists now: a second C is refused
    assert box.scalar("SELECT count(*) FROM profile") == 1

    box.clock.advance(timedelta(days=box.settings.daemon.private_copy_days, seconds=1))
    ctx = JobContext(box.settings, box.sf, box.clock, "test")
    assert "2 private copies" in run_job("prune", ctx)
    with pytest.raises(RerunUnavailable, match=r"private copy of r\.csv has expired"):
        rerun(box.daemon.driver, first.id)
    assert Path(first.archive_path).exists()  # archives are kept longer


def test_rerun_of_an_unknown_run_is_refused(box: Inbox) -> None:
    with pytest.raises(RerunUnavailable, match="no run 99"):
        rerun(box.daemon.driver, 99)


def test_an_unreadable_file_is_rejected_and_kept_privately(
    box: Inbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tests run as root, which reads any file: deny the read the way an NFS/SMB mapping does.
    real_open = Path.open

    def deny(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self.name.endswith("-secret.csv") and "work" in self.parts:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", deny)
    box.drop("secret.csv", [account_row(1)])
    [done] = box.settle().files
    assert done.status == "rejected"
    assert report_rows(box.reports()[0])[1][:3] == ["0", "ERREUR", messages.FILE_UNREADABLE]
    [run] = box.runs()
    assert run.archive_path is None
    assert Path(run.private_copy_path).exists()
    assert not Path(run.work_path).exists()
    assert box.scalar("SELECT count(*) FROM account") == 0


def test_a_mass_delete_waits_in_work_until_approved_then_is_archived(box: Inbox) -> None:
    n = 12
    run = hold_mass_delete(box, n)
    assert Path(run.work_path).exists()
    assert report_rows(Path(run.report_path))[1][:3] == ["0", "ATTENTE", run.reason]
    assert box.settle().files == []  # looked at again, nothing to do, nothing logged
    approve_run(
        run.id, approver="ops", settings=box.settings, session_factory=box.sf, clock=box.clock
    )
    [archived] = box.daemon.run_once().files
    assert (archived.run_id, archived.status) == (run.id, "done")
    run = box.runs()[-1]
    assert not Path(run.work_path).exists()
    assert Path(run.archive_path).exists()
    assert box.scalar("SELECT count(*) FROM profile WHERE state = 'deleted'") == n


def test_approve_refuses_a_run_whose_work_file_another_process_holds(box: Inbox) -> None:
    n = 12
    run = hold_mass_delete(box, n)
    # Another process (a daemon mid-drive) holds the lock: fcntl locks are per process,
    # so the holder must really be another process.
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path;"
            "from profilesync.store.runlock import RunLock;"
            "lock = RunLock(Path(sys.argv[1])); assert lock.acquire(); print('held', flush=True);"
            "sys.stdin.read()",
            run.work_path,
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        with pytest.raises(RunBusy):
            approve_run(
                run.id,
                approver="ops",
                settings=box.settings,
                session_factory=box.sf,
                clock=box.clock,
            )
    finally:
        holder.communicate("")
    assert box.runs()[-1].status == "awaiting_approval"  # untouched: approve it later
    assert box.scalar("SELECT count(*) FROM profile WHERE state = 'deleted'") == 0
    approve_run(
        run.id, approver="ops", settings=box.settings, session_factory=box.sf, clock=box.clock
    )
    assert box.scalar("SELECT count(*) FROM profile WHERE state = 'deleted'") == n


def test_an_internal_error_is_retried_then_the_run_fails_with_a_report(
    box: Inbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []

    def broken(run_id: int, **_: Any) -> None:
        calls.append(run_id)
        raise RuntimeError("bug")

    monkeypatch.setattr("profilesync.store.importer.process_run", broken)
    box.drop("bug.csv", [account_row(1)])
    assert box.settle().files == []  # first attempt failed: left in work/ for a retry
    assert box.daemon.run_once().files == []
    [failed] = box.daemon.run_once().files
    assert (failed.status, calls) == ("failed", [1, 1, 1])
    [run] = box.runs()
    assert report_rows(Path(run.report_path))[1][:3] == ["0", "ERREUR", messages.INTERNAL_ERROR]
    assert Path(run.private_copy_path).exists()
    assert not Path(run.work_path).exists()


class RealOutage:
    """Stops the daemon's real database, then brings it back.

    PostgreSQL: the database refuses connections (`ALLOW_CONNECTIONS false`) and every backend
    of the daemon is terminated. SQLite (tests run as root: chmod does not stop a read): the
    database's folder is moved away and the daemon's connections are closed, as terminating
    the backends does, so that the next connection finds no file to open.
    """

    def __init__(self, box: Inbox, pg_admin: sa.Engine | None) -> None:
        self.box, self.pg_admin = box, pg_admin
        self.url = sa.make_url(box.url)
        self.down = False

    def start(self) -> None:
        self.down = True
        if self.url.get_backend_name() == "sqlite":
            folder = Path(self.url.database or "").parent
            folder.rename(folder.with_name(folder.name + ".away"))
            self.box.engine.dispose()
            return
        assert self.pg_admin is not None
        with self.pg_admin.connect() as conn:
            conn.execute(sa.text(f'ALTER DATABASE "{self.url.database}" ALLOW_CONNECTIONS false'))
            conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": self.url.database},
            )

    def stop(self) -> None:
        if not self.down:
            return
        self.down = False
        if self.url.get_backend_name() == "sqlite":
            folder = Path(self.url.database or "").parent
            folder.with_name(folder.name + ".away").rename(folder)
            return
        assert self.pg_admin is not None
        with self.pg_admin.connect() as conn:
            conn.execute(sa.text(f'ALTER DATABASE "{self.url.database}" ALLOW_CONNECTIONS true'))


@pytest.fixture
def outage_box(db_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Inbox]:
    """An Inbox whose SQLite database sits alone in its own folder (the outage moves it)."""
    url = sa.make_url(db_url)
    if url.get_backend_name() == "sqlite":
        alone = tmp_path / "data" / "profilesync.db"
        alone.parent.mkdir()
        Path(url.database or "").rename(alone)
        db_url = f"sqlite:///{alone}"
    world = Inbox(db_url, tmp_path)
    world.settings = world.settings.with_overrides(database={"url": db_url, "batch_size": 2})
    world.daemon = world.new_daemon()
    yield world
    world.close()


def _file_pass(box: Inbox) -> list[Any]:
    """What `run_once` does for files (recovery, then the inbox), without the jobs: these
    find the database gone too and say so on their own (test_jobs)."""
    files = box.daemon.recover()
    done, _ = box.daemon.process_inbox()
    return [*files, *done]


def _applied_once(box: Inbox, lines: int) -> None:
    [run] = box.runs()
    assert (run.status, run.total, run.ok) == ("done", lines, lines)
    got = box.scalar("SELECT count(DISTINCT line) FROM line_outcome WHERE run_id = :r", r=run.id)
    assert (got, box.scalar("SELECT count(*) FROM line_outcome")) == (lines, lines)
    assert box.scalar("SELECT count(*) FROM account") == lines
    [report] = box.reports()
    assert [r[:2] for r in report_rows(report)[1:]] == [[str(n), "OK"] for n in range(2, lines + 2)]
    assert not [p for p in (box.state / "work").rglob("*.csv")]


def _no_attempt_spent(caplog: pytest.LogCaptureFixture) -> None:
    """An outage is not an attempt (driver.MAX_ATTEMPTS): never logged as an internal error,
    so never marked failed for it."""
    said = [r.getMessage() for r in caplog.records]
    assert not [m for m in said if "internal error" in m]


def test_a_database_stopped_before_a_file_loses_nothing_and_the_file_waits(
    outage_box: Inbox, pg_server: sa.Engine | None, caplog: pytest.LogCaptureFixture
) -> None:
    box = outage_box
    outage = RealOutage(box, pg_server)
    dropped = box.drop("coupure.csv", [account_row(n) for n in range(1, 6)])
    content = dropped.read_bytes()
    box.daemon.run_once()  # seen once; complete at the next look
    outage.start()
    try:
        box.mono.advance(box.settings.daemon.stable_seconds)
        for _ in range(4):  # an outage is not an attempt: never marked failed for it
            assert _file_pass(box) == []
        # Nothing lost: the file is either still in the inbox or claimed into work/.
        kept = [*box.inbox.rglob("*.csv"), *(box.state / "work").rglob("*.csv")]
        assert [p.read_bytes() for p in kept] == [content]
        assert not box.reports()
        _no_attempt_spent(caplog)
    finally:
        outage.stop()
    [done] = box.daemon.run_once().files
    assert done.status == "done"
    assert not dropped.exists()
    _applied_once(box, 5)


def test_a_database_stopped_mid_file_resumes_where_it_stopped(
    outage_box: Inbox, pg_server: sa.Engine | None, caplog: pytest.LogCaptureFixture
) -> None:
    """PostgreSQL: the daemon's backend is terminated between two committed batches."""
    box = outage_box
    if sa.make_url(box.url).get_backend_name() == "sqlite":
        # An SQLite connection already open keeps its file open wherever it is moved: the
        # database cannot be taken from under a running import, only between two passes.
        return
    outage = RealOutage(box, pg_server)
    committed: list[int] = []
    original = box.daemon.driver.progress

    def cut_after_the_first_batch(done: int, total: int) -> None:
        committed.append(done)
        if len(committed) == 1:
            outage.start()
        if original is not None:
            original(done, total)

    box.daemon.driver.progress = cut_after_the_first_batch
    box.drop("coupure.csv", [account_row(n) for n in range(1, 8)])
    try:
        box.daemon.run_once()
        box.mono.advance(box.settings.daemon.stable_seconds)
        assert _file_pass(box) == []
        assert committed == [2]
        for _ in range(3):
            assert _file_pass(box) == []
        assert not box.reports()
        assert len(list((box.state / "work").rglob("*.csv"))) == 1
        said = [r.getMessage() for r in caplog.records]
        assert [m for m in said if m.startswith("database unavailable (")]
        _no_attempt_spent(caplog)
    finally:
        outage.stop()
    [done] = box.daemon.run_once().files
    assert done.status == "done"
    _applied_once(box, 7)


def test_a_very_long_file_name_is_shortened_not_stuck(box: Inbox) -> None:
    name = "é" * 120 + ".csv"  # 244 bytes: the work name would pass the 255-byte limit
    box.drop(name, [account_row(1)])
    [done] = box.settle().files
    assert done.status == "done"
    assert done.file_name == "é" * 87 + "~.csv"
    [report] = box.reports()
    assert len(report.name.encode()) <= 255
    assert not list(box.folder().iterdir())
