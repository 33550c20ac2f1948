"""The run's guards, at their edges: the mass-delete hold and the référent removed mid-run.

The mass-delete rule (docs/architecture.md, « The whole file is read before anything is
applied »; config.ImportSettings): a file whose S lines would delete **more than**
`mass_delete_share` (default 25 %) of an establishment's **active** profiles, and **at
least** `mass_delete_min` (default 10) of them, waits for `profilesync approve`; only the
submitter's own establishments count. Each expected value below is worked out from that
rule, not from the code (issue 14: mutants of every comparison survived the suite).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from importkit import (
    EJ1,
    EJ2,
    ET1,
    ET2,
    ET3,
    GOOD_PW,
    REFERENT,
    T0,
    World,
    fast_settings,
    letters,
    row,
)
from profilesync.fileformat import messages
from profilesync.fileformat.outcome import Code
from profilesync.store import admin
from profilesync.store.importer import RunResult, process_run, register_run
from profilesync.store.model import ImportRun, RunStatus


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> Iterator[World]:
    w = World(db_url, tmp_path, fast_settings(tmp_path))
    yield w
    w.close()


EJ_OF = {ET1: EJ1, ET2: EJ2, ET3: ET3}


def people(n: int, *, et: str = ET1, ej: str | None = None) -> list[list[str]]:
    """`n` non-doctors in `et`, logins `<et>-<i>` so that ETs never share an account."""
    ej = ej or EJ_OF[et]
    return [
        row("C", f"Nom{letters(i)}", "Pré", ej=ej, et=et, ident=f"{et}-{i}", password=GOOD_PW)
        for i in range(n)
    ]


def deletions(
    n: int, *, et: str = ET1, ej: str | None = None, as_typed: str = ""
) -> list[list[str]]:
    return [
        row(
            "S", f"Nom{letters(i)}", "Pré", ej=ej or EJ_OF[et], et=as_typed or et, ident=f"{et}-{i}"
        )
        for i in range(n)
    ]


def assert_held(result: RunResult, *shares: tuple[int, int, str]) -> None:
    """Held for approval, the reason naming (deletions, active profiles, ET) of each ET."""
    assert result.status is RunStatus.AWAITING_APPROVAL
    named = ", ".join(messages.deletion_share(n, active, et) for n, active, et in sorted(
        shares, key=lambda s: s[2]))  # fmt: skip
    assert result.reason == messages.awaiting_approval(result.run_id, named)


def held_for(world: World, rows: list[list[str]]) -> RunStatus:
    result, _ = world.run(rows)
    return result.status


def make_referent_of_et3(world: World) -> None:
    with world.sf() as s:
        admin.add_referent(s, REFERENT, [ET3], actor="operateur", now=T0)
        s.commit()


# --- the threshold: more than 25 %, at least 10 ------------------------------------------------


def test_exactly_the_minimum_of_deletions_over_the_share_is_held(world: World) -> None:
    world.run(people(12))
    result, outs = world.run(deletions(10))  # 10 ≥ 10 and 10 > 25 % of 12
    assert_held(result, (10, 12, ET1))
    assert outs == []
    assert world.scalar("SELECT count(*) FROM profile WHERE state = 'deleted'") == 0


def test_exactly_a_quarter_of_the_active_profiles_is_not_more_than_the_share(world: World) -> None:
    world.run(people(40))
    result, outs = world.run(deletions(10))  # 10 = 25 % of 40: not more than the share
    assert result.status is RunStatus.DONE
    assert [o.code for o in outs] == [Code.OK] * 10
    assert world.scalar("SELECT count(*) FROM profile WHERE state = 'deleted'") == 10


def test_one_more_than_a_quarter_is_held(world: World) -> None:
    world.run(people(40))
    result, _ = world.run(deletions(11))  # 11 > 25 % of 40
    assert_held(result, (11, 40, ET1))


def test_the_share_is_of_the_establishments_own_active_profiles(world: World) -> None:
    """10 of ET1's 12 is 83 %: held, however many profiles ET2 has."""
    world.run(people(12))
    world.run(people(60, et=ET2, ej=EJ2))
    assert held_for(world, deletions(10)) is RunStatus.AWAITING_APPROVAL


def test_pending_and_deleted_profiles_are_not_active_ones(world: World) -> None:
    """ET1: 12 active, 30 pending (début next year), 5 already deleted. 10 S lines are 10
    of the 12 active profiles: held (counted over every profile, 10 of 47 would not be)."""
    world.run(people(12))
    world.run(
        [
            row(
                "C",
                f"Futur{letters(i)}",
                "Pré",
                ident=f"futur-{i}",
                password=GOOD_PW,
                debut="01/01/2027",
            )
            for i in range(30)
        ]
    )
    world.run(
        [
            row("C", f"Parti{letters(i)}", "Pré", ident=f"parti-{i}", password=GOOD_PW)
            for i in range(5)
        ]
    )
    done, _ = world.run(
        [row("S", f"Parti{letters(i)}", "Pré", ident=f"parti-{i}") for i in range(5)]
    )
    assert done.status is RunStatus.DONE  # 5 deletions: below the minimum
    assert world.scalar("SELECT count(*) FROM profile WHERE state = 'pending'") == 30
    assert world.scalar("SELECT count(*) FROM profile WHERE state = 'deleted'") == 5
    result, _ = world.run(deletions(10))
    assert_held(result, (10, 12, ET1))


def test_deleting_profiles_of_an_et_with_none_active_is_held(world: World) -> None:
    """10 S lines, 0 active profiles (all pending): more than 25 % of 0, and 10 of them."""
    world.run([row("C", f"Nom{letters(i)}", "Pré", ident=f"{ET1}-{i}", password=GOOD_PW,
                   debut="01/01/2027") for i in range(10)])  # fmt: skip
    assert world.scalar("SELECT count(*) FROM profile WHERE state = 'active'") == 0
    result, _ = world.run(deletions(10))
    assert_held(result, (10, 0, ET1))


# --- which S lines count -----------------------------------------------------------------------


def test_s_lines_for_another_referents_et_first_do_not_hide_a_mass_delete(world: World) -> None:
    world.run(people(12))
    rows = deletions(3, et=ET3) + deletions(10)  # ET3 is not the submitter's
    result, _ = world.run(rows)
    assert_held(result, (10, 12, ET1))


def test_a_few_s_lines_of_a_small_et_first_do_not_hide_a_mass_delete(world: World) -> None:
    world.run(people(12))
    world.run(people(4, et=ET2, ej=EJ2))
    rows = deletions(2, et=ET2, ej=EJ2) + deletions(10)  # ET2: 2 deletions, under the minimum
    result, _ = world.run(rows)
    assert_held(result, (10, 12, ET1))


def test_two_establishments_over_the_threshold_are_both_named(world: World) -> None:
    world.run(people(12))
    world.run(people(11, et=ET2, ej=EJ2))
    result, _ = world.run(deletions(10, et=ET2, ej=EJ2) + deletions(10))
    assert_held(result, (10, 12, ET1), (10, 11, ET2))


def test_an_et_whose_leading_zero_a_spreadsheet_dropped_counts_as_that_et(world: World) -> None:
    """SPEC §3/§2b: `10780062` is ET3 (`010780062`) typed through a spreadsheet."""
    make_referent_of_et3(world)
    world.run(people(12, et=ET3))
    result, _ = world.run(deletions(10, et=ET3, as_typed=ET3[1:]))
    assert_held(result, (10, 12, ET3))


def test_s_typed_in_lower_case_with_spaces_counts_as_a_deletion(world: World) -> None:
    """SPEC §2: every field is trimmed; codes are matched case-insensitively."""
    world.run(people(12))
    rows = deletions(10)
    for r in rows:
        r[1], r[3] = f" {ET1} ", " s "
    result, _ = world.run(rows)
    assert_held(result, (10, 12, ET1))


def test_an_et_of_eight_digits_that_is_no_finess_neither_holds_nor_crashes(world: World) -> None:
    world.run(people(12))
    result, outs = world.run(deletions(10, as_typed="12345678"))
    assert result.status is RunStatus.DONE
    assert all(o.code is Code.ERREUR for o in outs) and len(outs) == 10


# --- a référent removed while their run is running ----------------------------------------------


def test_a_referent_removed_mid_run_gets_the_rest_refused_line_by_line(world: World) -> None:
    """architecture.md: « a référent removed while their file was half applied gets the rest
    refused line by line » — the run ends DONE, never rejected whole."""
    path = world.csv(people(3))
    report = world.tmp / "mid.rapport.csv"
    run_id = register_run(
        world.sf,
        work_path=path,
        report_path=report,
        clock=world.clock,
        submitter=REFERENT,
        file_name=path.name,
        source="cli",
    )
    with world.sf() as s:
        run = s.get(ImportRun, run_id)
        assert run is not None
        run.start(T0)  # the daemon had started it when the operator removed the référent
        admin.remove_referent(s, REFERENT, actor="operateur", now=T0)
        s.commit()
    world.clock.advance(timedelta(hours=1))
    result = process_run(
        run_id, settings=world.settings, session_factory=world.sf, clock=world.clock
    )
    assert result.status is RunStatus.DONE
    assert (result.summary.ok, result.summary.erreur) == (0, 3)
    assert world.scalar("SELECT count(*) FROM account") == 0
    got = world.rows("SELECT line, code FROM line_outcome ORDER BY line")
    assert [tuple(r) for r in got] == [(2, "ERREUR"), (3, "ERREUR"), (4, "ERREUR")]
    # Resumed, not restarted: it started when the daemon first took it up.
    times = world.rows("SELECT started_at, finished_at FROM import_run WHERE id = :i", i=run_id)
    assert [tuple(str(t)[:19] for t in r) for r in times] == [
        ("2026-03-15 10:00:00", "2026-03-15 11:00:00")
    ]


def test_a_run_is_stamped_started_when_its_lines_are_first_applied(world: World) -> None:
    result, _ = world.run(people(2))
    assert result.status is RunStatus.DONE
    times = world.rows(
        "SELECT started_at, finished_at FROM import_run WHERE id = :i", i=result.run_id
    )
    assert [tuple(str(t)[:19] for t in r) for r in times] == [
        ("2026-03-15 10:00:00", "2026-03-15 10:00:00")
    ]


def test_a_stranger_whose_run_never_started_is_rejected_whole(world: World) -> None:
    result, outs = world.run(people(2), submitter="inconnu")
    assert result.status is RunStatus.REJECTED
    assert outs == []
    # Rejected is finished: `runs` and `status` show when.
    finished = world.scalar("SELECT finished_at FROM import_run WHERE id = :i", i=result.run_id)
    assert str(finished)[:19] == T0.strftime("%Y-%m-%d %H:%M:%S")
