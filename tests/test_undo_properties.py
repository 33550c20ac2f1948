"""Property: whatever a file of C, M and S lines did, `undo` gives the state back (issue 11.3).

Random files over a few people (a line may well be ERREUR, or repeat a key, or create then
delete the same profile): after import then undo, profiles, accounts (exact hashes
included) and memberships equal what they were before the import.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from importkit import GOOD_PW, World, doctor, fast_settings, fresh_sqlite, row
from profilesync.store.undo import undo_run

PEOPLE = [
    ("Martin", "Claire", "cmartin"),
    ("Durand", "Luc", "ldurand"),
    ("Petit", "Anne", "apetit"),
]
DEBUTS = ["", "01/01/2026", "01/06/2026"]  # the clock says 15/03/2026: the last is to come
FINS = ["", "31/12/2027", "01/03/2026"]  # the last is past: ERREUR on C, ends a profile on M
EMAILS = ["", "x@aphp.mssante.fr", "y@aphp.mssante.fr"]


@st.composite
def lines(draw: Any) -> list[str]:
    action = draw(st.sampled_from(["C", "M", "S"]))
    when = {"debut": draw(st.sampled_from(DEBUTS)), "fin": draw(st.sampled_from(FINS))}
    email = draw(st.sampled_from(EMAILS))
    if draw(st.booleans()):
        role, team = draw(st.sampled_from([("CDC3D", ""), ("CDC3E", "Bloc"), ("CDC3E", "Neuf")]))
        return doctor(action, role=role, team=team, email=email, password=GOOD_PW, **when)
    nom, prenom, ident = draw(st.sampled_from(PEOPLE))
    if action == "M" and draw(st.booleans()):
        nom += "-Dupont"  # a rename, undone with the rest
    role, team = draw(st.sampled_from([("CDC1", ""), ("SYNT", ""), ("CDC4", "Bloc")]))
    cells = {"ident": ident, "role": role, "team": team, "email": email, **when}
    return row(action, nom, prenom, password=GOOD_PW if action == "C" else "", **cells)


BASELINE = [
    row("C", password=GOOD_PW, email="c.martin@aphp.mssante.fr"),
    row("C", "Durand", "Luc", ident="ldurand", role="SYNT", password=GOOD_PW, fin="31/12/2030"),
    doctor("C", password=GOOD_PW),
]


def _state(world: World) -> list[list[tuple[Any, ...]]]:
    return [
        sorted(
            tuple(r)
            for r in world.rows(
                "SELECT key, nom, prenom, email, locked, password_hash, password_pending "
                "FROM account"
            )
        ),
        sorted(
            (r[0], r[1], r[2] or "", str(r[3]), str(r[4]), r[5])
            for r in world.rows(
                "SELECT a.key, p.role, t.name, p.debut, p.fin, p.state FROM profile p "
                "JOIN account a ON a.id = p.account_id LEFT JOIN team t ON t.id = p.team_id"
            )
        ),
        sorted(tuple(r) for r in world.rows("SELECT * FROM referent_establishment")),
    ]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(lines(), min_size=1, max_size=8))
def test_import_then_undo_is_the_identity(file: list[list[str]]) -> None:
    tmp = Path(tempfile.mkdtemp())
    world = World(fresh_sqlite(tmp), tmp, fast_settings(tmp))
    try:
        world.run(BASELINE)
        before = _state(world)
        result, _ = world.run(file)
        assert result.run_id is not None
        changed = world.scalar("SELECT count(*) FROM audit WHERE run_id = :r", r=result.run_id)
        if not changed:
            return  # nothing to undo: refused whole, tested elsewhere
        undone = undo_run(
            result.run_id,
            settings=world.settings,
            session_factory=world.sf,
            clock=world.clock,
            actor="operator:test",
        )
        assert undone.summary.erreur == 0, undone.outcomes
        assert _state(world) == before
        queued = world.scalar(
            "SELECT count(*) FROM directory_change WHERE run_id = :r", r=undone.run_id
        )
        assert queued >= 1
    finally:
        world.close()
