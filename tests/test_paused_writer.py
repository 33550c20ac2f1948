"""A writer that pauses longer than `stable_seconds` with the file still open is not
claimed (issue 9): half a file is never applied. A real second process holds it open.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from daemonkit import Inbox, account_row, report_rows, write_csv
from profilesync.service import inbox

WRITER = (
    "import sys\n"
    "with open(sys.argv[1], 'a', encoding='utf-8', newline='') as f:\n"
    "    print('open', flush=True)\n"
    "    f.write(sys.stdin.readline())\n"  # the second half, once told to go on
)


def test_a_file_still_open_for_writing_waits_however_long_it_is_quiet(box: Inbox) -> None:
    path = write_csv(box.folder() / "lent.csv", [account_row(1)])
    with subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as writer:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "open"
        assert inbox.being_written(path)
        for _ in range(3):  # quiet for three stability periods: still not taken
            box.settle()
        assert path.exists() and box.runs() == []
        assert writer.stdin is not None
        writer.stdin.write(";".join(account_row(2)) + "\r\n")
        writer.stdin.close()
        assert writer.wait(timeout=30) == 0
        assert writer.stdout.read() == ""
    assert not inbox.being_written(path)
    [done] = box.settle().files
    assert done.status == "done"
    [report] = box.reports()
    assert [r[:2] for r in report_rows(report)[1:]] == [["2", "OK"], ["3", "OK"]]
    assert box.scalar("SELECT count(*) FROM account") == 2


def test_a_file_nobody_writes_is_not_held_back(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("x")
    assert not inbox.being_written(path)
    assert not inbox.being_written(tmp_path / "absent.csv")
