"""Differential properties: batching and dry runs never change what a file does.

Random sequences of C/M/S lines over a few people, profiles and teams are imported with one
line per batch (every line sees the committed database) and with one batch for the whole
file (every line sees the in-memory state of earlier lines): the reports and the resulting
databases must be identical, and a dry run must write the same report as the real run.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from importkit import (
    GOOD_PW,
    REFERENT,
    World,
    canonical_dump,
    doctor,
    fast_settings,
    fresh_sqlite,
    row,
)
from profilesync.store.importer import import_file

PEOPLE = [("Martin", "Claire", "cmartin"), ("Petit", "Léo", "lpetit"), ("MARTIN", "claire", "cm2")]
ROLES = [("CDC1", ""), ("SYNT", ""), ("CDC4", "Bloc"), ("CDC4", "Urgences")]
DATES = ["", "01/01/2026", "01/06/2026", "31/12/2026", "10/03/2026"]


@st.composite
def lines(draw: st.DrawFn) -> list[list[str]]:
    out = []
    for _ in range(draw(st.integers(1, 14))):
        action = draw(st.sampled_from("CMS"))
        pw = draw(st.sampled_from(["", GOOD_PW]))
        if draw(st.integers(0, 4)) == 0:
            out.append(doctor(action, 1, password=pw, fin=draw(st.sampled_from(DATES))))
            continue
        nom, prenom, ident = draw(st.sampled_from(PEOPLE))
        role, team = draw(st.sampled_from(ROLES))
        debut, fin = draw(st.sampled_from(DATES)), draw(st.sampled_from(DATES))
        out.append(
            row(
                action,
                nom,
                prenom,
                ident=ident,
                role=role,
                team=team,
                password=pw,
                email=draw(st.sampled_from(["", "a@mssante.fr", "b@mssante.fr"])),
                debut=debut,
                fin=fin,
            )
        )
    return out


def _run(tmp: Path, rows: list[list[str]], batch: int, dry: bool = False) -> tuple[str, bytes]:
    url = fresh_sqlite(tmp)
    w = World(url, tmp, fast_settings(tmp).with_overrides(database={"batch_size": batch}))
    try:
        report = tmp / "r.csv"
        import_file(
            w.csv(rows), REFERENT, settings=w.settings, session_factory=w.sf, clock=w.clock,
            report_path=report, dry_run=dry,
        )  # fmt: skip
        return url, report.read_bytes()
    finally:
        w.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines())
def test_batching_and_dry_run_do_not_change_the_outcome(rows: list[list[str]]) -> None:
    with (
        tempfile.TemporaryDirectory() as a,
        tempfile.TemporaryDirectory() as b,
        tempfile.TemporaryDirectory() as c,
    ):
        one_url, one_report = _run(Path(a), rows, batch=1)
        all_url, all_report = _run(Path(b), rows, batch=1000)
        _, dry_report = _run(Path(c), rows, batch=1000, dry=True)
        assert one_report.decode() == all_report.decode()
        assert dry_report.decode() == all_report.decode()
        one, whole = canonical_dump(one_url), canonical_dump(all_url)
        # Directory changes are idempotent and queued once per account per batch: the set
        # of keys to project is what must not depend on batching.
        assert set(one.pop("directory_change")) == set(whole.pop("directory_change"))
        assert one == whole
