"""The report streamed while a run applies is byte for byte the one rebuilt from its outcomes.

A run applied from its first line writes its report as each batch commits (no re-read of
`line_outcome`); processing the finished run again rebuilds it from the database. Both must
agree on every kind of line: OK, ALERTE, ERREUR (stateless and stateful), masked
passwords, cells that need quoting or the formula guard, and a batch replayed line by line.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from importkit import GOOD_PW, World, doctor, fast_settings, row
from profilesync.store.batchstate import BatchState
from profilesync.store.importer import import_file, process_run, register_run
from profilesync.store.model import RunStatus

MIXED = [
    row("C", password=GOOD_PW),
    row("C", "Dupont", "Éloïse", ident="edupont", password=GOOD_PW, email="e@x"),
    row("M", ident="cmartin", email="claire.martin@mssante.fr"),
    row("M", ident="nobody"),  # ERREUR: no such profile
    row("C", "=SOMME(A1)", "-Jean", ident="jformula", password=GOOD_PW),
    row("C", 'Le "Grand"', "A;B", ident="quoted", password=GOOD_PW),
    doctor("C", 1, password=GOOD_PW),
    doctor("M", 1, nom="Autre"),  # ALERTE: a doctor's names are ignored
    row("X", ident="bad-action"),  # ERREUR of the stateless rules
    row("C", ident="cmartin", password=GOOD_PW),  # ERREUR: the profile exists
    row("S", ident="edupont", nom="Dupont", prenom="Éloïse"),
    row("C", "Bad", "Line", ident="bad", password=GOOD_PW),  # replayed batch, DB error
]


@pytest.fixture(params=[1, 4, 500], ids=lambda n: f"batch{n}")
def world(request: pytest.FixtureRequest, db_url: str, tmp_path: Path) -> Iterator[World]:
    settings = fast_settings(tmp_path).with_overrides(database={"batch_size": request.param})
    w = World(db_url, tmp_path, settings)
    yield w
    w.close()


def test_streamed_report_equals_the_one_rebuilt_from_the_outcomes(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_flush = BatchState.flush

    def flaky_flush(self: BatchState, conn: Any, now: Any, run_id: Any) -> None:
        if "bad" in self.accounts:
            raise sa.exc.IntegrityError("INSERT …", {}, Exception("simulated"))
        real_flush(self, conn, now, run_id)

    monkeypatch.setattr(BatchState, "flush", flaky_flush)
    result, outs = world.run(MIXED)
    assert result.status is RunStatus.DONE
    assert {o.code.value for o in outs} == {"OK", "ALERTE", "ERREUR"}
    streamed = result.report_path.read_bytes()
    assert GOOD_PW.encode() not in streamed
    result.report_path.unlink()
    again = process_run(
        result.run_id, settings=world.settings, session_factory=world.sf, clock=world.clock
    )
    assert again.summary == result.summary
    assert result.report_path.read_bytes() == streamed
    assert streamed.count(b"\r\n") == len(MIXED) + 1  # header + one row per line


def test_a_dry_run_streams_the_same_report_as_the_real_run(world: World) -> None:
    path = world.csv(MIXED)
    kw: dict[str, Any] = {
        "settings": world.settings,
        "session_factory": world.sf,
        "clock": world.clock,
    }
    dry = import_file(path, "aref", dry_run=True, report_path=world.tmp / "dry.csv", **kw)
    real = import_file(path, "aref", report_path=world.tmp / "real.csv", **kw)
    assert dry.summary == real.summary
    assert dry.report_path.read_bytes() == real.report_path.read_bytes()


def test_applying_a_run_removes_the_temporary_report_a_killed_process_left(
    world: World,
) -> None:
    path = world.csv([row("C", password=GOOD_PW)])
    report = world.tmp / "out" / "f.rapport.csv"
    report.parent.mkdir()
    run_id = register_run(
        world.sf,
        work_path=path,
        submitter="aref",
        file_name=path.name,
        report_path=report,
        source="test",
        clock=world.clock,
    )
    # What a process killed mid-run leaves beside the report it was streaming.
    stale = report.with_name(f".{report.name}.tmp-0123456789ab")
    stale.write_text("partial", encoding="utf-8")
    unrelated = report.with_name(".other.rapport.csv.tmp-0123456789ab")
    unrelated.write_text("not ours", encoding="utf-8")
    result = process_run(
        run_id, settings=world.settings, session_factory=world.sf, clock=world.clock
    )
    assert result.status is RunStatus.DONE
    assert not stale.exists() and unrelated.exists()
    assert sorted(p.name for p in report.parent.iterdir()) == [unrelated.name, report.name]
    assert report.read_bytes().count(b"\r\n") == 2
