"""service/claim.py at its edges (issue 14): what mutation testing found unpinned.

Expectations from SPEC §6 (a file in a folder that is no référent's login is refused and
no outbox folder is made for it; a file at the inbox root is refused), §7 and issue 10 (the
report's name: `<stem>.<local time>.rapport.csv` in `outbox/<login>/`) and §9 (a claimed file is
processed exactly once: registering it twice makes one run; a lock file is only swept
once its work file is gone and it is old).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from importkit import REFERENT, T0, World, fast_settings
from profilesync import faults, layout
from profilesync.config import Settings
from profilesync.service import claim
from profilesync.store.model import ImportRun


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> Iterator[World]:
    w = World(db_url, tmp_path, fast_settings(tmp_path))
    yield w
    w.close()


def _runs(world: World) -> list[ImportRun]:
    with world.sf() as s:
        return list(s.scalars(sa.select(ImportRun).order_by(ImportRun.id)))


# --- the report's folder (SPEC §6, §7) -----------------------------------------------------------


def test_a_referents_report_goes_to_their_outbox(world: World) -> None:
    with world.sf() as s:
        folder = claim.report_folder(world.settings, s, REFERENT, "f.csv")
    assert folder == (world.tmp / "outbox" / REFERENT).resolve()


def test_a_file_at_the_inbox_root_is_reported_at_the_outbox_root(world: World) -> None:
    with world.sf() as s:
        folder = claim.report_folder(world.settings, s, None, "f.csv")
    assert folder == (world.tmp / "outbox").resolve()


def test_a_strangers_report_is_kept_for_the_operator_not_in_the_outbox(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="profilesync.service.claim"), world.sf() as s:
        folder = claim.report_folder(world.settings, s, "AREF", "f.csv")
    assert folder == (world.tmp / "state" / "strangers" / "AREF").resolve()
    assert not (world.tmp / "outbox" / "AREF").exists()
    [record] = caplog.records
    said = record.getMessage()
    assert said.startswith("file 'f.csv' dropped in inbox/AREF/, ")
    assert said.endswith(f"kept in {folder}")


def test_a_strangers_report_name_is_logged_with_its_file(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="profilesync.service.claim"), world.sf() as s:
        path = claim.report_path(world.settings, s, "AREF", "liste.csv", "20260315T100000Z")
    assert path.parent == (world.tmp / "state" / "strangers" / "AREF").resolve()
    assert "'liste.csv'" in caplog.records[0].getMessage()


def test_an_outbox_folder_the_operator_made_receives_its_reports(world: World) -> None:
    made = world.tmp / "outbox" / "secretariat"
    made.mkdir(parents=True)
    with world.sf() as s:
        assert claim.report_folder(world.settings, s, "secretariat", "f.csv") == made.resolve()


# --- the claim (the rename is the claim) --------------------------------------------------------


def test_a_claim_moves_the_file_into_its_logins_work_folder(world: World) -> None:
    dropped = world.tmp / "inbox" / REFERENT / "Liste été.csv"
    dropped.parent.mkdir(parents=True)
    dropped.write_bytes(b"contenu")
    got = claim.claim(dropped, REFERENT, world.settings, world.clock)
    assert got is not None
    assert got.login == REFERENT
    assert got.work_path.parent == (world.tmp / "state" / "work" / REFERENT).resolve()
    assert got.work_path.name.startswith("20260315T100000Z-")
    assert got.work_path.name.endswith("-Liste été.csv")
    assert got.work_path.read_bytes() == b"contenu"
    assert not dropped.exists()


def test_a_file_taken_first_by_another_daemon_is_not_claimed(world: World) -> None:
    gone = world.tmp / "inbox" / REFERENT / "f.csv"
    assert claim.claim(gone, REFERENT, world.settings, world.clock) is None


# --- registering a claimed file: one run, whatever happens -------------------------------------


def _work_file(world: World, login: str | None, when: datetime, name: str) -> Path:
    folder = layout.work_folder(world.settings, login)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / layout.work_name(when, name)
    path.write_bytes(b"x;y\r\n")
    return path


def test_registering_a_claimed_file_records_who_what_and_where(world: World) -> None:
    claimed_at = datetime(2026, 3, 14, 8, 30, 5, tzinfo=UTC)  # before the clock: an orphan
    work = _work_file(world, REFERENT, claimed_at, "liste.csv")
    run_id = claim.register(world.sf, work, world.settings, world.clock)
    [run] = _runs(world)
    assert run.id == run_id
    assert (run.submitter, run.file_name, run.source, run.rerun_of) == (
        REFERENT, "liste.csv", "inbox", None,
    )  # fmt: skip
    assert run.work_path == str(work)
    report = (world.tmp / "outbox" / REFERENT / "liste.2026-03-14_09h30.rapport.csv").resolve()
    assert run.report_path == str(report)
    assert report.parent.is_dir()
    assert claim.find_run(world.sf, work) is not None


def test_registering_the_same_file_again_gives_the_same_run(world: World) -> None:
    work = _work_file(world, REFERENT, T0, "liste.csv")
    first = claim.register(world.sf, work, world.settings, world.clock)
    assert claim.register(world.sf, work, world.settings, world.clock, source="rerun") == first
    assert [r.id for r in _runs(world)] == [first]


def test_a_rerun_is_registered_as_such(world: World) -> None:
    original = claim.register(
        world.sf, _work_file(world, REFERENT, T0, "a.csv"), world.settings, world.clock
    )
    again = _work_file(world, REFERENT, T0, "a.csv")
    claim.register(world.sf, again, world.settings, world.clock, source="rerun", rerun_of=original)
    assert [(r.source, r.rerun_of) for r in _runs(world)] == [("inbox", None), ("rerun", original)]


def test_a_file_at_the_inbox_root_is_registered_without_a_submitter(world: World) -> None:
    claim.register(world.sf, _work_file(world, None, T0, "f.csv"), world.settings, world.clock)
    [run] = _runs(world)
    assert run.submitter == ""
    report = world.tmp / "outbox" / "f.2026-03-15_11h00.rapport.csv"
    assert run.report_path == str(report.resolve())


def test_a_work_file_whose_name_was_not_made_by_a_claim_is_registered_as_is(world: World) -> None:
    folder = layout.work_folder(world.settings, REFERENT)
    folder.mkdir(parents=True)
    odd = folder / "posé-à-la-main.csv"
    odd.write_bytes(b"")
    claim.register(world.sf, odd, world.settings, world.clock)
    [run] = _runs(world)
    assert run.file_name == "posé-à-la-main.csv"
    assert run.report_path is not None
    assert run.report_path.endswith("posé-à-la-main.2026-03-15_11h00.rapport.csv")


# --- unfinished business and stale locks -------------------------------------------------------


def test_no_work_folder_means_nothing_unfinished(tmp_path: Path) -> None:
    assert claim.work_files(fast_settings(tmp_path)) == []


def test_files_at_the_work_roots_top_are_not_claims(world: World) -> None:
    work = _work_file(world, REFERENT, T0, "a.csv")
    (layout.work_root(world.settings) / "stray.csv").write_bytes(b"")
    (work.parent / "sub").mkdir()
    assert claim.work_files(world.settings) == [work]


def _lock(work: Path, age_s: float) -> Path:
    lock = layout.lock_path(work)
    lock.write_bytes(b"")
    then = time.time() - age_s
    os.utime(lock, (then, then))
    return lock


def test_only_old_locks_of_finished_files_are_swept(world: World) -> None:
    live = _work_file(world, REFERENT, T0, "live.csv")
    live_lock = _lock(live, 2 * claim.STALE_LOCK_SECONDS)
    done = _work_file(world, REFERENT, T0, "done.csv")
    done_lock = _lock(done, claim.STALE_LOCK_SECONDS + 60)
    done.unlink()
    young = _work_file(world, "autre", T0, "young.csv")
    young_lock = _lock(young, claim.STALE_LOCK_SECONDS - 60)
    young.unlink()
    old = _work_file(world, "autre", T0, "old.csv")
    old_lock = _lock(old, 10 * claim.STALE_LOCK_SECONDS)
    old.unlink()
    assert claim.sweep_locks(world.settings) == 2
    assert (live_lock.exists(), done_lock.exists(), young_lock.exists(), old_lock.exists()) == (
        True, False, True, False,
    )  # fmt: skip
    assert claim.sweep_locks(world.settings) == 0


class _SweptMeanwhile:
    """The work path of a lock another daemon's sweep removes between our look at the lock's
    age and our unlink: several daemons share one inbox (docs/operations.md)."""

    def __init__(self, lock: Path) -> None:
        self.lock = lock

    def exists(self) -> bool:
        self.lock.unlink()  # the other daemon's sweep
        return False


def test_a_lock_another_daemon_removed_before_we_looked_is_skipped_and_the_rest_swept(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _work_file(world, REFERENT, T0, "first.csv")
    first_lock = _lock(first, 2 * claim.STALE_LOCK_SECONDS)
    second = _work_file(world, "autre", T0, "second.csv")
    second_lock = _lock(second, 2 * claim.STALE_LOCK_SECONDS)
    first.unlink()
    second.unlink()
    listed = layout.lock_files

    def listing_then_race(settings: Settings) -> list[Path]:
        found = sorted(listed(settings), key=lambda p: p != first_lock)
        first_lock.unlink()  # gone between our listing and our stat
        return found

    monkeypatch.setattr(layout, "lock_files", listing_then_race)
    assert claim.sweep_locks(world.settings) == 1
    assert not second_lock.exists()


def test_a_lock_another_daemon_removes_while_we_sweep_it_is_no_error(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = _work_file(world, REFERENT, T0, "done.csv")
    lock = _lock(work, 2 * claim.STALE_LOCK_SECONDS)
    work.unlink()
    monkeypatch.setattr(layout, "locked_work", _SweptMeanwhile)
    claim.sweep_locks(world.settings)  # no FileNotFoundError
    assert not lock.exists()


def test_two_files_of_one_folder_are_claimed_one_after_the_other(world: World) -> None:
    inbox = world.tmp / "inbox" / REFERENT
    inbox.mkdir(parents=True)
    claimed = []
    for name in ("a.csv", "b.csv"):
        (inbox / name).write_bytes(name.encode())
        got = claim.claim(inbox / name, REFERENT, world.settings, world.clock)
        assert got is not None
        claimed.append(got.work_path.read_bytes())
    assert claimed == [b"a.csv", b"b.csv"]


# --- the crash tests' points (SPEC §9: the proof of exactly-once is a kill at each step) ------


class _Killed(Exception):
    """Stands in for the SIGKILL a crash test's subprocess sends itself."""


@pytest.fixture
def crash_at(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    def kill(_pid: int, _sig: int) -> None:
        raise _Killed

    monkeypatch.setattr(faults.os, "kill", kill)
    yield monkeypatch


def test_the_after_claim_point_is_reached_once_the_file_is_in_work(
    world: World, crash_at: pytest.MonkeyPatch
) -> None:
    dropped = world.tmp / "inbox" / REFERENT / "f.csv"
    dropped.parent.mkdir(parents=True)
    dropped.write_bytes(b"x")
    crash_at.setenv(faults.CRASH_ENV, "after_claim")
    with pytest.raises(_Killed):
        claim.claim(dropped, REFERENT, world.settings, world.clock)
    assert not dropped.exists()
    assert [p.name.endswith("-f.csv") for p in claim.work_files(world.settings)] == [True]
    assert _runs(world) == []


def test_the_after_register_point_is_reached_once_the_run_is_committed(
    world: World, crash_at: pytest.MonkeyPatch
) -> None:
    work = _work_file(world, REFERENT, T0, "f.csv")
    crash_at.setenv(faults.CRASH_ENV, "after_register")
    with pytest.raises(_Killed):
        claim.register(world.sf, work, world.settings, world.clock)
    assert [r.work_path for r in _runs(world)] == [str(work)]


def test_a_work_file_that_cannot_be_read_is_registered_all_the_same(world: World) -> None:
    """SPEC §9: every dropped file ends with a report, even one whose content is gone."""
    folder = layout.work_folder(world.settings, REFERENT)
    folder.mkdir(parents=True)
    work = folder / layout.work_name(T0, "f.csv")
    work.symlink_to(folder / "nowhere")
    claim.register(world.sf, work, world.settings, world.clock)
    [run] = _runs(world)
    assert (run.work_path, run.content_sha256) == (str(work), "")
