"""`status`, `check-config`, `jobs`, `rerun` through the real CLI, against a real database."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from clikit import run_cli, write_config
from daemonkit import REFERENT, Inbox, account_row
from profilesync.service.heartbeat import Heartbeat
from servicekit import daemon_config


def cli(config: Path, *args: str) -> tuple[int, str]:
    result = run_cli(*args, config=config)
    return result.exit_code, result.output


def test_status_of_a_stopped_daemon_with_work_waiting(box: Inbox) -> None:
    config = daemon_config(box.tmp, box.url)
    box.drop("fait.csv", [account_row(1), account_row(2, password="court")])
    box.settle()
    box.drop("attente.csv", [account_row(3)])
    box.drop("racine.csv", [account_row(4)], login=None)
    code, out = cli(config, "status")
    assert code == 1  # no daemon: a monitoring probe fails
    lines = out.splitlines()
    assert lines[0] == "daemon: NOT RUNNING"
    assert "inbox: 2 file(s) waiting ((root): 1, aref: 1)" in lines
    assert "in progress (work/): 0; awaiting approval: 0" in lines
    run_line = next(line for line in lines if line.startswith("  #1 "))
    assert run_line.endswith("aref/fait.csv: done, 2 lines: 1 OK, 0 ALERTE, 1 ERREUR in 0.0s")
    assert any(line.startswith("directory backlog: ") and "due" in line for line in lines)
    validity = next(line for line in lines if line.strip().startswith("validity"))
    assert re.fullmatch(
        r"  validity +last: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d (CET|CEST) ok; "
        r"next: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d (CET|CEST) — .+",
        validity,
    ), validity
    # A job that never ran says so once, without a time: "last: never".
    export = next(line for line in lines if line.strip().startswith("export"))
    assert re.fullmatch(
        r"  export +last: never; next: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d (CET|CEST)", export
    ), export
    assert run_line.startswith("  #1 ") and re.match(r"  #1 \S+ \S+ (CET|CEST) aref/", run_line)


def test_status_json_and_a_live_heartbeat(box: Inbox) -> None:
    config = daemon_config(box.tmp, box.url)
    beat = Heartbeat(box.settings, datetime.now(UTC), 5.0)
    beat.beat(datetime.now(UTC), "idle")
    code, out = cli(config, "status", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["alive"] is True
    [daemon] = data["daemons"]
    assert daemon["state"] == "idle" and daemon["alive"] is True
    assert {j["name"] for j in data["jobs"]} == {"validity", "directory_sync", "export", "prune"}
    assert data["directory"] == {"due": 0, "waiting": 0, "parked": 0}
    beat.remove()


def test_status_and_runs_show_a_run_with_the_same_keys(box: Inbox) -> None:
    config = daemon_config(box.tmp, box.url)
    box.drop("r.csv", [account_row(1)])
    box.settle()
    code, out = cli(config, "status", "--json")
    [in_status] = json.loads(out)["recent_runs"]
    code, out = cli(config, "runs", "--json")
    assert code == 0
    assert [in_status] == json.loads(out)
    assert (in_status["file"], in_status["status"]) == ("r.csv", "done")


def test_status_with_a_stale_heartbeat_says_not_running(box: Inbox) -> None:
    config = daemon_config(box.tmp, box.url)
    Heartbeat(box.settings, datetime(2026, 1, 1, tzinfo=UTC), 5.0).beat(
        datetime(2026, 1, 1, tzinfo=UTC), "idle"
    )
    code, out = cli(config, "status")
    assert code == 1
    assert out.startswith("daemon: NOT RUNNING")
    assert "no heartbeat for" in out


def test_jobs_run_and_list(box: Inbox) -> None:
    config = daemon_config(box.tmp, box.url)
    code, out = cli(config, "jobs", "run", "validity")
    assert (code, out.splitlines()[-1].split(": ")[:2]) == (0, ["validity", "ok"])
    code, out = cli(config, "jobs", "list")
    assert code == 0 and out.startswith("jobs:")
    assert "validity" in out and "last: never" in out  # export never ran
    code, out = cli(config, "jobs", "run", "nope")
    assert code == 2 and "unknown job 'nope'" in out


def test_rerun_through_the_cli(box: Inbox) -> None:
    config = daemon_config(box.tmp, box.url)
    box.drop("r.csv", [account_row(1)])
    box.settle()
    code, out = cli(config, "rerun", "1")
    assert (code, out.strip().splitlines()[-1]) == (0, "run 2 (r.csv): done")
    code, out = cli(config, "rerun", "42")
    assert code == 2 and "no run 42" in out


def test_check_config_passes_on_a_good_configuration(box: Inbox) -> None:
    code, out = cli(daemon_config(box.tmp, box.url), "check-config")
    assert code == 0, out
    assert "FAIL" not in out
    assert "ok   [database]" in out and "reachable, migrated" in out


def test_check_config_lists_every_problem(tmp_path: Path) -> None:
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where a folder should be")
    unmigrated = tmp_path / "empty.db"
    sa.create_engine(f"sqlite:///{unmigrated}").connect().close()
    config = write_config(
        tmp_path,
        paths={"inbox": blocked / "inbox", "outbox": tmp_path / "out"},
        database={"url": f"sqlite:///{unmigrated}"},
        ldap={"url": "ldap://127.0.0.1:1", "timeout_seconds": 2},
        jobs={"export_time": "2h"},
    )
    code, out = cli(config, "check-config")
    assert code == 2, out
    fails = [line for line in out.splitlines() if line.startswith("FAIL")]
    assert [f.split(":")[0] for f in fails] == [
        "FAIL [paths] inbox",
        "FAIL [daemon]/[jobs]",
        "FAIL [database]",
        "FAIL [ldap]",
    ]
    assert "profilesync db upgrade" in out
    assert "[jobs] export_time must be HH:MM, got '2h'" in out


def test_check_config_warns_about_open_and_stranger_folders(box: Inbox) -> None:
    """A folder every user may write into, or one named like no login, is worth a look."""
    (box.inbox / REFERENT).mkdir(parents=True, exist_ok=True)
    (box.inbox / REFERENT).chmod(0o777)
    (box.inbox / "AREF").mkdir()
    code, out = cli(daemon_config(box.tmp, box.url), "check-config")
    assert code == 0, out  # warnings, not failures
    warns = [line for line in out.splitlines() if line.startswith("WARN inbox")]
    assert warns == [
        f"WARN inbox permissions: writable by every user: inbox/{REFERENT} — chmod o-w "
        "(docs/operations.md, « Dossiers des référents »)",
        "WARN inbox folder names: no référent has the login 'AREF' exactly: "
        "files dropped there are refused",
    ]
    (box.inbox / REFERENT).chmod(0o750)
    (box.inbox / "AREF").rmdir()
    code, out = cli(daemon_config(box.tmp, box.url), "check-config")
    assert "WARN inbox" not in out


@pytest.mark.parametrize("command", [("status",), ("runs",), ("check-config",), ("db", "status")])
def test_read_only_commands_create_nothing(tmp_path: Path, command: tuple[str, ...]) -> None:
    """Pointed at a fresh machine, a read-only command leaves it as it found it (issue 9)."""
    config = write_config(
        tmp_path,
        paths={"inbox": tmp_path / "v" / "inbox", "outbox": tmp_path / "v" / "outbox",
               "state": tmp_path / "v" / "state"},
        database={"url": f"sqlite:///{tmp_path / 'v' / 'db' / 'p.db'}"},
    )  # fmt: skip
    code, out = cli(config, *command)
    assert code != 0, out
    assert not (tmp_path / "v").exists(), sorted(str(p) for p in (tmp_path / "v").rglob("*"))
    assert "profilesync db upgrade" in out


def test_status_on_an_empty_database_says_to_upgrade(tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    sa.create_engine(f"sqlite:///{empty}").connect().close()
    config = write_config(tmp_path, database={"url": f"sqlite:///{empty}"})
    code, out = cli(config, "status")
    assert code == 1
    assert (
        f"database: UNAVAILABLE: the database sqlite:///{empty} is not initialised: "
        "run `profilesync db upgrade`"
    ) in out


def test_check_config_warns_about_a_cheap_hash_and_an_open_bind_password(
    tmp_path: Path,
) -> None:
    secret = tmp_path / "bind.pw"
    secret.write_text("s3cret")
    secret.chmod(0o644)
    config = write_config(
        tmp_path,
        passwords={"argon2_time_cost": 1, "argon2_memory_kib": 8},
        ldap={"bind_password_file": str(secret)},
    )
    _, out = cli(config, "check-config")
    warns = [line for line in out.splitlines() if line.startswith("WARN")]
    assert (
        "WARN [passwords]: argon2id cost m=8 KiB, t=1 is below OWASP's minimum (m=19456, t=2): "
        "leaked hashes would be cheap to crack"
    ) in warns
    assert (
        f"WARN bind password file: {secret} is readable by every user: chmod 600 {secret}" in warns
    )
    assert "s3cret" not in out
