"""`profilesync import/approve/runs/show` end to end through the real CLI, on both engines."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from clikit import run_cli, run_process, write_config
from importkit import ET1, GOOD_PW, REFERENT, T0, World, fast_settings, letters, row
from profilesync.fileformat import messages
from profilesync.fileformat.outcome import Code
from profilesync.fileformat.report import read_report
from profilesync.store import db
from profilesync.store.model import Establishment, Referent, ReferentEstablishment

SAMPLES = Path(__file__).parent / "data" / "samples"


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> Iterator[World]:
    w = World(db_url, tmp_path, fast_settings(tmp_path))
    yield w
    w.close()


def _config(world: World) -> Path:
    return write_config(world.tmp, database={"url": world.url})


def _cli(world: World, *args: str) -> subprocess.CompletedProcess[str]:
    return run_process(*args, config=_config(world))


def test_import_prints_summary_writes_default_report_and_exits_1_on_erreur(
    world: World,
) -> None:
    path = world.csv([row("C", password=GOOD_PW), row("M", "X", "Y", ident="nobody")])
    res = _cli(world, "import", str(path), "--as", REFERENT)
    assert res.returncode == 1, res.stderr
    assert res.stdout.splitlines()[0] == "2 lignes : 1 OK, 0 ALERTE, 1 ERREUR"
    report = path.with_name(f"{path.stem}.rapport.csv")
    assert [(o.line, o.code) for o in read_report(report)] == [(2, Code.OK), (3, Code.ERREUR)]
    assert GOOD_PW not in report.read_text(encoding="utf-8-sig")
    # The private copy holding plain passwords is gone once the run is over.
    assert not any((world.tmp / "state").rglob("*.csv"))


def test_import_all_ok_exits_0_and_runs_show(world: World) -> None:
    path = world.csv([row("C", password=GOOD_PW)])
    res = _cli(world, "import", str(path), "--as", REFERENT, "--report", str(world.tmp / "r.csv"))
    assert res.returncode == 0, res.stderr
    assert (world.tmp / "r.csv").exists()
    runs = run_cli("runs", "--json", config=_config(world))
    assert runs.exit_code == 0, runs.output
    (only,) = json.loads(runs.output)
    assert (only["status"], only["total"], only["ok"], only["submitter"]) == (
        "done",
        1,
        1,
        REFERENT,
    )
    assert only["duration_seconds"] is not None
    text = run_cli("runs", config=_config(world))
    [line] = text.output.splitlines()
    # Local time with its zone, as `status` prints it.
    assert re.fullmatch(
        rf" +{only['id']}  \d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d (CET|CEST)  done +{REFERENT} .+",
        line,
    ), line
    show = run_cli("show", str(only["id"]), config=_config(world))
    assert show.exit_code == 0
    assert "2;OK;" in show.output


def test_unknown_submitter_exits_2(world: World) -> None:
    path = world.csv([row("C", password=GOOD_PW)])
    res = _cli(world, "import", str(path), "--as", "personne")
    assert res.returncode == 2
    assert res.stdout.startswith("report: ")
    assert res.stderr == f"error: file rejected: {messages.unknown_submitter('personne')}\n"


def test_dry_run_exits_like_a_run_and_keeps_nothing(world: World) -> None:
    path = world.csv([row("C", password=GOOD_PW)])
    res = _cli(world, "import", str(path), "--as", REFERENT, "--dry-run")
    assert res.returncode == 0, res.stderr
    assert "1 lignes : 1 OK" in res.stdout
    assert world.scalar("SELECT count(*) FROM import_run") == 0
    assert world.scalar("SELECT count(*) FROM account") == 0


def test_approve_cli(world: World) -> None:
    people = [row("C", f"N{letters(i)}", "P", ident=f"u{i}", password=GOOD_PW) for i in range(40)]
    assert _cli(world, "import", str(world.csv(people)), "--as", REFERENT).returncode == 0
    deletes = world.csv([row("S", f"N{letters(i)}", "P", ident=f"u{i}") for i in range(20)])
    res = _cli(world, "import", str(deletes), "--as", REFERENT)
    assert res.returncode == 2
    assert res.stdout.splitlines()[1].startswith("file held for approval: ")
    assert "profilesync approve 2" in res.stdout
    assert any((world.tmp / "state").rglob("*.csv"))  # kept for the approval
    res = _cli(world, "approve", "2", "--by", "ops")
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[0] == "20 lignes : 20 OK, 0 ALERTE, 0 ERREUR"
    assert world.scalar("SELECT count(*) FROM profile WHERE state = 'deleted'") == 20
    assert not any((world.tmp / "state").rglob("*.csv"))
    res = _cli(world, "approve", "2")
    assert res.returncode == 2 and "not awaiting approval" in res.stderr


def test_reject_cli_of_an_operators_import(world: World) -> None:
    people = [row("C", f"N{letters(i)}", "P", ident=f"u{i}", password=GOOD_PW) for i in range(40)]
    assert _cli(world, "import", str(world.csv(people)), "--as", REFERENT).returncode == 0
    deletes = world.csv([row("S", f"N{letters(i)}", "P", ident=f"u{i}") for i in range(20)])
    res = _cli(world, "import", str(deletes), "--as", REFERENT)
    assert "or refuse it with: profilesync reject 2 --reason TEXT" in res.stdout.splitlines()
    shown = _cli(world, "show", "2").stdout.splitlines()
    assert any(line.startswith("0;ATTENTE;Fichier en attente de validation") for line in shown)
    res = _cli(world, "reject", "2", "--reason", "à revoir avec la DRH")
    assert res.returncode == 0, res.stderr
    assert _cli(world, "show", "2").stdout.splitlines()[-1] == (
        "0;ERREUR;Fichier refusé par votre équipe informatique : à revoir avec la DRH. Aucune "
        "ligne n'a été appliquée. Corrigez le fichier si besoin, puis déposez-le à nouveau."
    )
    assert world.scalar("SELECT count(*) FROM profile WHERE state = 'deleted'") == 0
    assert not any((world.tmp / "state").rglob("*.csv"))  # the private copy is gone


def test_a_database_lost_mid_import_says_what_is_kept(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    def outage(*_args: object, **_kwargs: object) -> None:
        raise sa.exc.OperationalError("SELECT 1", {}, Exception("server closed\nmore detail"))

    monkeypatch.setattr("profilesync.store.importer.process_run", outage)
    path = world.csv([row("C", password=GOOD_PW)])
    res = run_cli("import", path, "--as", REFERENT, config=_config(world))
    assert res.exit_code == 2
    assert res.stderr == (
        "error: database unavailable (server closed): the lines already recorded stay "
        "recorded; the import resumes at the first line without a result "
        "(status 'running' in profilesync runs)\n"
    )


def test_refuses_an_out_of_date_schema(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    sa.create_engine(url).dispose()
    config = write_config(tmp_path, database={"url": url})
    csv_path = tmp_path / "x.csv"
    csv_path.write_text("x\n", encoding="utf-8")
    for args in (["import", str(csv_path), "--as", "a"], ["runs"], ["export", "--et", ET1]):
        res = run_cli(*args, config=config)
        assert res.exit_code == 2
        assert "profilesync db upgrade" in res.output


def _register_sample_world(url: str) -> None:
    engine = db.make_engine(url)
    with db.session_factory(engine)() as s:
        ests = [
            Establishment(et="750100125", ej="750712184", created_at=T0),
            Establishment(et="010780062", ej="010780062", created_at=T0),
        ]
        ref = Referent(login="referent", created_at=T0)
        s.add_all([*ests, ref])
        s.flush()
        s.add_all(ReferentEstablishment(referent_id=ref.id, establishment_id=e.id) for e in ests)
        s.commit()
    engine.dispose()


# Expected codes per physical line, from the samples' README (stateful view added). Line 6
# of the Excel sample is an M of a CDC3E profile without its team: the team is part of the
# profile's key, so the rules refuse it (docs/architecture.md, Rules).
SAMPLE_CODES = {
    "modele.csv": [],
    "excel-fr-windows1252.csv": [
        (2, "OK"),
        (3, "OK"),
        (4, "OK"),
        (5, "ALERTE"),
        (6, "ERREUR"),
        (7, "OK"),
    ],
    "libreoffice-utf8.csv": [(1, "OK"), (2, "ERREUR")],
}


@pytest.mark.parametrize("name", sorted(SAMPLE_CODES))
def test_shared_samples(db_url: str, tmp_path: Path, name: str) -> None:
    _register_sample_world(db_url)
    world = World.__new__(World)  # only for _config/_cli: the world is registered above
    world.url, world.tmp = db_url, tmp_path
    sample = tmp_path / name
    shutil.copyfile(SAMPLES / name, sample)
    res = _cli(world, "import", str(sample), "--as", "referent")
    report = sample.with_name(f"{sample.stem}.rapport.csv")
    got = [(o.line, o.code.value) for o in read_report(report)]
    assert got == SAMPLE_CODES[name], [(o.line, o.messages) for o in read_report(report)]
    assert res.returncode == (1 if any(c == "ERREUR" for _, c in got) else 0)


def test_spreadsheet_damage_sample(db_url: str, tmp_path: Path) -> None:
    _register_sample_world(db_url)
    world = World.__new__(World)
    world.url, world.tmp = db_url, tmp_path
    sample = tmp_path / "damage.csv"
    shutil.copyfile(SAMPLES / "spreadsheet-damage.csv", sample)
    res = _cli(world, "import", str(sample), "--as", "referent")
    outs = read_report(sample.with_name("damage.rapport.csv"))
    # Every test password of this sample contains the person's Nom: the policy refuses them.
    assert [(o.line, o.code) for o in outs] == [(n, Code.ERREUR) for n in (2, 3, 4, 5)]
    assert res.returncode == 1
    assert world_count(db_url, "SELECT count(*) FROM account") == 0

    # The same damage with acceptable passwords: the completed FINESS is applied padded.
    fixed = tmp_path / "fixed.csv"
    text = (SAMPLES / "spreadsheet-damage.csv").read_bytes().decode("cp1252")
    for old in ("Luc-Bernard-Pass1", "Emma-Petit-Pass-2", "Hugo-Moreau-Pass-3", "Lea-Roux-Pass-44"):
        text = text.replace(old, GOOD_PW)
    fixed.write_bytes(text.encode("cp1252"))
    res = _cli(world, "import", str(fixed), "--as", "referent")
    outs = read_report(fixed.with_name("fixed.rapport.csv"))
    assert [(o.line, o.code) for o in outs] == [
        (2, Code.ERREUR),
        (3, Code.OK),  # SPEC 2b: the FINESS and ISO-date repairs are certain, notes only
        (4, Code.ERREUR),
        (5, Code.OK),
    ]
    assert "notation scientifique" in outs[0].messages[-1]
    assert (
        world_count(
            db_url,
            "SELECT count(*) FROM profile p JOIN establishment e ON e.id = p.establishment_id "
            "WHERE e.et = '010780062'",
        )
        == 2
    )


def world_count(url: str, sql: str) -> int:
    engine = db.make_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text(sql)).scalar_one())
    finally:
        engine.dispose()


def test_operator_may_type_the_login_in_any_case(world: World) -> None:
    """`--as ARef` is aref: the operator's typing is normalised, never a folder's name."""
    path = world.csv([row("C", password=GOOD_PW)])
    res = _cli(world, "import", str(path), "--as", " ARef ")
    assert res.returncode == 0, res.stderr
    assert world.scalar("SELECT DISTINCT actor FROM audit") == REFERENT
