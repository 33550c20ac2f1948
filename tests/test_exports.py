"""Exports (SPEC §8): the import format, atomic, and an unchanged re-import writes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from clikit import run_cli, write_config
from importkit import EJ1, EJ2, ET1, ET2, GOOD_PW, T0, World, doctor, fast_settings, row
from profilesync.fileformat.columns import COLUMNS
from profilesync.fileformat.outcome import Code
from profilesync.fileformat.report import read_report
from profilesync.layout import export_path
from profilesync.store.admin import UnknownEstablishment
from profilesync.store.exports import export_establishment
from profilesync.store.model import Account, Profile

TABLES = ("establishment", "referent", "referent_establishment", "team", "account", "profile")


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> Iterator[World]:
    w = World(db_url, tmp_path, fast_settings(tmp_path))
    yield w
    w.close()


def _populate(world: World) -> None:
    _, outs = world.run(
        [
            doctor(
                "C",
                1,
                role="CDC3E",
                team="Urgences",
                password=GOOD_PW,
                email="pd@aphp.mssante.fr",
                fin="31/12/2027",
            ),
            doctor("C", 1, role="CDC3D", debut="01/06/2026"),
            row(
                "C", "Lefèvre", "Anaïs", ident="alef", role="CDC4", team="Bloc A", password=GOOD_PW
            ),
            row("C", "Lefèvre", "Anaïs", ident="alef", role="SYNT"),
            row("C", "Petit", "Léo", ident="lpetit", password=GOOD_PW),
            row("S", "Petit", "Léo", ident="lpetit"),
            row("C", "Ailleurs", "Zoé", ej=EJ2, et=ET2, ident="zail", password=GOOD_PW),
        ]
    )
    assert all(o.code is Code.OK for o in outs), outs


def _snapshot(world: World) -> dict[str, list[object]]:
    return {t: sorted(map(tuple, world.rows(f"SELECT * FROM {t}"))) for t in TABLES}


def test_export_format(world: World) -> None:
    _populate(world)
    out = world.tmp / "export.csv"
    result = export_establishment(world.sf, ET1, out, world.clock)
    assert result.profiles == 4
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8-sig")
    assert "\r\n" in text and "\n" not in text.replace("\r\n", "")
    lines = text.split("\r\n")
    assert lines[0] == ";".join(COLUMNS)
    assert lines[-1] == ""
    body = sorted(lines[1:-1])
    assert body == sorted(
        [
            f"{EJ1};{ET1};Urgences;M;Durand;Paul;{doctor('C', 1)[6]};CDC3E;;;"
            "pd@aphp.mssante.fr;;31/12/2027",
            f"{EJ1};{ET1};;M;Durand;Paul;{doctor('C', 1)[6]};CDC3D;;;pd@aphp.mssante.fr;"
            "01/06/2026;",
            f"{EJ1};{ET1};Bloc A;M;Lefèvre;Anaïs;;CDC4;alef;;;;",
            f"{EJ1};{ET1};;M;Lefèvre;Anaïs;;SYNT;alef;;;;",
        ]
    )
    assert not list(world.tmp.glob(".export.csv.*"))  # no temporary file left


def test_unchanged_export_reimports_all_ok_with_zero_writes(world: World) -> None:
    _populate(world)
    world.clock.advance(timedelta(days=1))
    out = world.tmp / "export.csv"
    export_establishment(world.sf, ET1, out, world.clock)
    before = _snapshot(world)
    audits = world.scalar("SELECT count(*) FROM audit")
    changes = world.scalar("SELECT count(*) FROM directory_change")
    from profilesync.store.importer import import_file

    result = import_file(
        out, "aref", settings=world.settings, session_factory=world.sf, clock=world.clock
    )
    assert (result.summary.ok, result.summary.alerte, result.summary.erreur) == (4, 0, 0)
    assert {o.messages for o in read_report(result.report_path)} == {("Aucun changement",)}
    assert _snapshot(world) == before
    assert world.scalar("SELECT count(*) FROM audit") == audits
    assert world.scalar("SELECT count(*) FROM directory_change") == changes


def test_export_guards_against_formula_injection(world: World) -> None:
    est_id = world.scalar("SELECT id FROM establishment WHERE et = :et", et=ET1)
    with world.sf() as s:
        acc = Account(
            key="evil",
            doctor=False,
            rpps=None,
            nom="=HYPERLINK(1)",
            prenom="+x",
            email=None,
            password_hash="{ARGON2}x",
            password_set_at=T0,
            locked=False,
            created_at=T0,
            updated_at=T0,
        )
        s.add(acc)
        s.flush()
        s.add(
            Profile(
                account_id=acc.id,
                establishment_id=est_id,
                role="CDC1",
                state="active",
                created_at=T0,
                updated_at=T0,
            )
        )
        s.commit()
    out = world.tmp / "x.csv"
    export_establishment(world.sf, ET1, out, world.clock)
    assert ";'=HYPERLINK(1);'+x;" in out.read_text(encoding="utf-8-sig")


@pytest.mark.parametrize(
    ("names", "written"),
    [
        (("-Martin", "-Claire", "=Bloc", "CDC4"), ";'=Bloc;M;'-Martin;'-Claire;"),
        # One cell guarded alone: its « ' » alone must be taken off on re-import.
        (("-Martin", "Claire", "", "CDC1"), ";M;'-Martin;Claire;"),
        (("Martin", "-Claire", "", "CDC1"), ";M;Martin;'-Claire;"),
        (("Martin", "Claire", "=Bloc", "CDC4"), ";'=Bloc;M;Martin;Claire;"),
    ],
)
def test_guarded_names_round_trip_unchanged(
    world: World, names: tuple[str, str, str, str], written: str
) -> None:
    nom, prenom, team, role = names  # Nom, Prénom, Nom de l'équipe, Rôle
    _, outs = world.run([row("C", nom, prenom, team=team, role=role, password=GOOD_PW)])
    assert outs[0].code is Code.OK
    out = world.tmp / "guarded.csv"
    export_establishment(world.sf, ET1, out, world.clock)
    assert written in out.read_text(encoding="utf-8-sig")
    before = _snapshot(world)
    from profilesync.store.importer import import_file

    result = import_file(
        out, "aref", settings=world.settings, session_factory=world.sf, clock=world.clock
    )
    assert (result.summary.ok, result.summary.total) == (1, 1)
    assert _snapshot(world) == before


def test_unknown_establishment(world: World) -> None:
    with pytest.raises(UnknownEstablishment):
        export_establishment(world.sf, "130786049", world.tmp / "x.csv", world.clock)


def test_default_path_and_cli(world: World, tmp_path: Path) -> None:
    assert export_path(Path("out"), ET1, date(2026, 3, 5)) == Path(
        f"out/exports/{ET1}/profils-{ET1}-20260305.csv"
    )
    _populate(world)
    config = write_config(tmp_path, database={"url": world.url})
    res = run_cli("export", "--et", ET1, config=config)
    assert res.exit_code == 0, res.output
    (made,) = (tmp_path / "outbox" / "exports" / ET1).glob(f"profils-{ET1}-*.csv")
    assert "4 profiles exported: " in res.output and str(made) in res.output
    res = run_cli("export", "--et", "130786049", config=config)
    assert res.exit_code == 2
    assert res.stderr == (
        "error: establishment 130786049 is not registered: add it first with "
        "`profilesync establishment add --ej EJ --et 130786049`\n"
    )
