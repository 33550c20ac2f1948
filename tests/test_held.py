"""Issue 10: a file held by the mass-deletion guard waits (not an ERREUR), then either its
real report follows on approval, or `profilesync reject` refuses it with a reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from clikit import run_cli, write_config
from daemonkit import Inbox, hold_mass_delete, report_rows

N = 12


def _held(box: Inbox) -> Any:
    return hold_mass_delete(box, N)


def _cli(box: Inbox, *args: str) -> Any:
    return run_cli(*args, config=write_config(box.tmp, database={"url": box.url}))


def test_a_held_file_says_it_waits_then_its_real_report_follows_approval(box: Inbox) -> None:
    run = _held(box)
    report = Path(run.report_path)
    [_, only] = report_rows(report)
    assert only[:2] == ["0", "ATTENTE"]
    assert only[2].startswith("Fichier en attente de validation")
    assert "ERREUR" not in report.read_text(encoding="utf-8-sig")

    res = _cli(box, "approve", str(run.id), "--by", "ops")
    assert res.exit_code == 0, res.output
    rows = report_rows(report)
    assert [r[:2] for r in rows[1:]] == [[str(n), "OK"] for n in range(2, N + 2)]
    assert box.scalar("SELECT count(*) FROM profile WHERE state = 'deleted'") == N


def test_reject_refuses_a_held_file_with_its_reason_and_archives_it(box: Inbox) -> None:
    run = _held(box)
    res = _cli(box, "reject", str(run.id), "--reason", "  trop de suppressions,\n à revoir. ")
    assert res.exit_code == 0, res.output
    [_, only] = report_rows(Path(run.report_path))
    assert only == [
        "0",
        "ERREUR",
        "Fichier refusé par votre équipe informatique : trop de suppressions, à revoir. "
        "Aucune ligne n'a été appliquée. Corrigez le fichier si besoin, puis déposez-le à "
        "nouveau.",
        *[""] * 13,
    ]
    [*_, done] = box.runs()
    assert done.status == "rejected"
    assert not Path(done.work_path).exists()
    assert Path(done.archive_path).exists()
    assert box.scalar("SELECT count(*) FROM profile WHERE state = 'deleted'") == 0
    assert box.settle().files == []  # nothing left for the daemon


def test_reject_needs_a_reason_and_a_held_run(box: Inbox) -> None:
    run = _held(box)
    res = _cli(box, "reject", str(run.id), "--reason", " \n ")
    assert res.exit_code == 2
    assert "--reason" in res.output
    assert box.runs()[-1].status == "awaiting_approval"
    first = box.runs()[0]
    res = _cli(box, "reject", str(first.id), "--reason", "non")
    assert res.exit_code == 2
    assert "not awaiting approval" in res.output
    res = _cli(box, "reject", "999", "--reason", "non")
    assert res.exit_code == 2


def test_a_formula_in_the_reason_is_neutralised_in_the_report(box: Inbox) -> None:
    run = _held(box)
    res = _cli(box, "reject", str(run.id), "--reason", '=HYPERLINK("http://x")', "--by", "ops")
    assert res.exit_code == 0, res.output
    message = report_rows(Path(run.report_path))[1][2]
    assert message.startswith("Fichier refusé par votre équipe informatique : =HYPERLINK(")
    assert box.scalar("SELECT actor FROM audit WHERE action = 'run.refused'") == "ops"
