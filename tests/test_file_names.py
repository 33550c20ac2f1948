"""Hostile or foreign file names (issue 9): bytes a client's code page made, control
characters that would forge a log line. Through the daemon's burst mode on both engines.
"""

from __future__ import annotations

import io
import logging
import os
from pathlib import Path

import pytest

from daemonkit import REFERENT, Inbox, account_row, report_rows, write_csv
from profilesync import logsetup
from profilesync.layout import safe_name

STAMP = "2026-03-15_11h00"  # daemonkit's FixedClock, 2026-03-15 10:00 UTC, in Paris time


def drop_raw(box: Inbox, raw_name: bytes) -> None:
    folder = os.fsencode(box.folder(REFERENT))
    write_csv(Path(os.fsdecode(folder + b"/" + raw_name)), [account_row(1)])


def test_a_windows_1252_name_is_processed_and_reported_under_its_real_name(box: Inbox) -> None:
    """`café.csv` written by an old SMB client: the é is the single byte 0xE9."""
    drop_raw(box, b"caf\xe9 \x80.csv")
    [done] = box.settle().files
    assert done.status == "done" and done.file_name == "café €.csv"
    [report] = box.reports()
    assert report.name == f"café €.{STAMP}.rapport.csv"
    assert report_rows(report)[1][:2] == ["2", "OK"]
    assert not list((box.inbox / REFERENT).iterdir())  # nothing jammed in the inbox
    assert not list((box.state / "work").rglob("*.csv"))  # nor in work/


def test_control_characters_in_a_name_never_reach_a_log_line_or_a_report_name(
    box: Inbox, caplog: pytest.LogCaptureFixture
) -> None:
    drop_raw(box, b"liste\nWARNING forged\x1b[31m\t.csv")
    with caplog.at_level(logging.INFO):
        [done] = box.settle().files
    assert done.file_name == "liste_WARNING forged_[31m_.csv"
    [report] = box.reports()
    assert report.name == f"liste_WARNING forged_[31m_.{STAMP}.rapport.csv"
    assert all("\n" not in r.getMessage() and "\x1b" not in r.getMessage() for r in caplog.records)


def test_the_text_log_escapes_what_a_message_brings_from_outside() -> None:
    record = logging.makeLogRecord(
        {"name": "x", "levelname": "ERROR", "msg": "cannot claim %s", "args": ("a\nb\x1b[2J",)}
    )
    line = logsetup.TextFormatter("%(levelname)s %(message)s").format(record)
    assert line == "ERROR cannot claim a\\x0ab\\x1b[2J"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"plain.csv", "plain.csv"),
        ("déjà.csv".encode(), "déjà.csv"),  # UTF-8 stays UTF-8
        (b"d\xe9j\xe0.csv", "déjà.csv"),  # Windows-1252
        (b"x\x81y.csv", "x\ufffdy.csv"),  # a byte Windows-1252 leaves undefined
        ("a\u202eb.csv".encode(), "a_b.csv"),  # a bidi override
        (b"a\x00b", "a_b"),
    ],
)
def test_safe_name(raw: bytes, expected: str) -> None:
    assert safe_name(os.fsdecode(raw)) == expected
    assert safe_name(expected) == expected


def test_logs_in_json_stay_one_line_too() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logsetup.JsonFormatter())
    record = logging.makeLogRecord({"name": "x", "msg": "a\nb"})
    handler.emit(record)
    assert stream.getvalue().count("\n") == 1
