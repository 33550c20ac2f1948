"""Run life cycle: idempotent re-processing, database errors on one line, secrets, progress."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from importkit import GOOD_PW, OTHER_PW, REFERENT, World, fast_settings, letters, row
from profilesync.fileformat import messages
from profilesync.fileformat.outcome import Code
from profilesync.store.batchstate import BatchState
from profilesync.store.importer import NotAwaitingApproval, RunNotFound, approve_run, process_run
from profilesync.store.model import RunStatus


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> Iterator[World]:
    w = World(db_url, tmp_path, fast_settings(tmp_path))
    yield w
    w.close()


def test_processing_a_finished_run_again_only_rewrites_its_report(world: World) -> None:
    result, _ = world.run([row("C", password=GOOD_PW), row("S"), row("S")])
    first = result.report_path.read_bytes()
    result.report_path.unlink()
    dump = world.rows("SELECT * FROM profile"), world.scalar("SELECT count(*) FROM audit")
    again = process_run(
        result.run_id, settings=world.settings, session_factory=world.sf, clock=world.clock
    )
    assert again.status is RunStatus.DONE and again.summary == result.summary
    assert result.report_path.read_bytes() == first
    assert (world.rows("SELECT * FROM profile"), world.scalar("SELECT count(*) FROM audit")) == (
        dump
    )
    assert world.scalar("SELECT count(*) FROM line_outcome") == 3


def test_unknown_run_and_approving_a_done_run(world: World) -> None:
    with pytest.raises(RunNotFound):
        process_run(999, settings=world.settings, session_factory=world.sf, clock=world.clock)
    result, _ = world.run([row("C", password=GOOD_PW)])
    with pytest.raises(NotAwaitingApproval):
        approve_run(
            result.run_id,
            approver="x",
            settings=world.settings,
            session_factory=world.sf,
            clock=world.clock,
        )


def test_a_database_error_on_one_line_spares_the_others(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_flush = BatchState.flush

    def flaky_flush(self: BatchState, conn: Any, now: Any, run_id: Any) -> None:
        if "bad" in self.accounts:
            raise sa.exc.IntegrityError("INSERT …", {}, Exception("simulated"))
        real_flush(self, conn, now, run_id)

    monkeypatch.setattr(BatchState, "flush", flaky_flush)
    result, outs = world.run(
        [
            row("C", password=GOOD_PW),
            row("C", "Bad", "Line", ident="bad", password=GOOD_PW),
            row("C", "Autre", "Ligne", ident="other", password=GOOD_PW),
        ]
    )
    assert result.status is RunStatus.DONE
    assert [(o.line, o.code) for o in outs] == [(2, Code.OK), (3, Code.ERREUR), (4, Code.OK)]
    assert outs[1].messages == (messages.LINE_DATABASE_ERROR,)
    assert sorted(r[0] for r in world.rows("SELECT key FROM account")) == ["cmartin", "other"]
    # Exactly the good lines' effects: one audit trail each, nothing of the bad one.
    assert world.scalar("SELECT count(*) FROM audit WHERE entity_key LIKE 'bad%'") == 0


def test_no_plain_password_anywhere(world: World) -> None:
    from datetime import timedelta

    result, _ = world.run([row("C", password=GOOD_PW), row("C", "X", "Y", ident="xy")])
    world.clock.advance(timedelta(days=100))
    second, _ = world.run([row("M", password=OTHER_PW)])
    texts = [result.report_path.read_text(encoding="utf-8-sig")]
    texts.append(second.report_path.read_text(encoding="utf-8-sig"))
    for table in ("account", "audit", "line_outcome", "import_run", "directory_change"):
        texts.append(str(world.rows(f"SELECT * FROM {table}")))
    for text in texts:
        assert GOOD_PW not in text and OTHER_PW not in text
    assert "***" in texts[0]


def test_progress_reports_lines_done_of_total(db_url: str, tmp_path: Path) -> None:
    settings = fast_settings(tmp_path).with_overrides(database={"batch_size": 2})
    w = World(db_url, tmp_path, settings)
    seen: list[tuple[int, int]] = []
    try:
        people = [
            row("C", f"N{letters(i)}", "P", ident=f"u{i}", password=GOOD_PW) for i in range(5)
        ]
        w.run(people, progress=lambda done, total: seen.append((done, total)))
    finally:
        w.close()
    assert seen == [(2, 5), (4, 5), (5, 5)]


def test_rejected_file_is_reported_whole(world: World) -> None:
    path = world.tmp / "binary.csv"
    path.write_bytes(b"PK\x03\x04" + bytes(range(256)) * 4)
    from profilesync.store.importer import import_file

    result = import_file(
        path, REFERENT, settings=world.settings, session_factory=world.sf, clock=world.clock
    )
    assert result.status is RunStatus.REJECTED and result.reason
    text = result.report_path.read_text(encoding="utf-8-sig").splitlines()
    assert len(text) == 2 and text[1].startswith("0;ERREUR;")
    assert world.scalar("SELECT status FROM import_run") == "rejected"
