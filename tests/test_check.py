"""check_file as a library: the clock decides "today", rejection mid-stream, unreadable input."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from profilesync.clock import FixedClock
from profilesync.config import LimitsSettings, Settings
from profilesync.fileformat import check as check_mod
from profilesync.fileformat import csvfile, messages
from profilesync.fileformat.check import BadTimezone, InputUnreadable, check_file
from profilesync.fileformat.csvfile import FileRejected, Row
from profilesync.fileformat.outcome import Code
from profilesync.fileformat.report import read_report

LINE = "750712184;750100125;;C;Martin;Paul;;CDC1;pmartin;Un-Bon-Passe-2026;;;{fin}\r\n"


def run(tmp_path: Path, text: str, now: datetime, settings: Settings | None = None) -> Path:
    path = tmp_path / "f.csv"
    path.write_text(text, encoding="utf-8")
    report = tmp_path / "r.csv"
    check_file(path, settings=settings or Settings(), clock=FixedClock(now), report_path=report)
    return report


@pytest.mark.parametrize(
    ("now", "code"),
    [
        # 23:30 in Paris on the 26th: a fin of the 26th is still today, the line is fine.
        (datetime(2026, 11, 26, 22, 30, tzinfo=UTC), Code.OK),
        # 00:30 in Paris on the 27th (still the 26th in UTC): the fin is past.
        (datetime(2026, 11, 26, 23, 30, tzinfo=UTC), Code.ERREUR),
    ],
)
def test_today_is_the_clocks_date_in_paris(tmp_path: Path, now: datetime, code: Code) -> None:
    report = run(tmp_path, LINE.format(fin="26/11/2026"), now)
    (row,) = read_report(report)
    assert row.code is code
    if code is Code.ERREUR:
        assert row.messages == (messages.fin_past_on_create("26/11/2026"),)


def test_today_follows_the_configured_timezone(tmp_path: Path) -> None:
    # 22:30 UTC is already the 27th in Nouméa.
    settings = Settings().with_overrides(daemon={"timezone": "Pacific/Noumea"})
    report = run(
        tmp_path,
        LINE.format(fin="26/11/2026"),
        datetime(2026, 11, 26, 22, 30, tzinfo=UTC),
        settings,
    )
    assert read_report(report)[0].code is Code.ERREUR


def test_unknown_timezone_is_refused_before_any_report(tmp_path: Path) -> None:
    settings = Settings().with_overrides(daemon={"timezone": "Europe/Atlantide"})
    with pytest.raises(BadTimezone, match="Europe/Atlantide"):
        run(tmp_path, LINE.format(fin=""), datetime(2026, 1, 1, tzinfo=UTC), settings)
    assert not (tmp_path / "r.csv").exists()


def test_rejection_found_while_streaming_discards_the_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = csvfile.read_rows

    def read_rows(path: Path, limits: LimitsSettings) -> Iterator[Row]:
        yield from real(path, limits)
        raise FileRejected(messages.FILE_CHANGED)

    monkeypatch.setattr(check_mod.csvfile, "read_rows", read_rows)
    path = tmp_path / "f.csv"
    path.write_text(LINE.format(fin="") * 3, encoding="utf-8")
    result = check_file(
        path,
        settings=Settings(),
        clock=FixedClock(datetime(2026, 1, 1, tzinfo=UTC)),
        report_path=tmp_path / "r.csv",
    )
    assert result.exit_code == 2
    assert result.rejected_reason == messages.FILE_CHANGED
    assert [(r.line, r.code, r.messages) for r in read_report(tmp_path / "r.csv")] == [
        (0, Code.ERREUR, (messages.FILE_CHANGED,))
    ]


def test_unreadable_input_raises_and_writes_no_report(tmp_path: Path) -> None:
    with pytest.raises(InputUnreadable, match=r"absent\.csv"):
        check_file(
            tmp_path / "absent.csv",
            settings=Settings(),
            clock=FixedClock(datetime(2026, 1, 1, tzinfo=UTC)),
            report_path=tmp_path / "r.csv",
        )
    assert list(tmp_path.iterdir()) == []


def test_result_counts_and_exit_code(tmp_path: Path) -> None:
    text = LINE.format(fin="") + LINE.format(fin="31/02/2027") + "\r\n" + LINE.format(fin="")
    path = tmp_path / "f.csv"
    path.write_text(text, encoding="utf-8")
    result = check_file(
        path,
        settings=Settings(),
        clock=FixedClock(datetime(2026, 1, 1, tzinfo=UTC)),
        report_path=tmp_path / "r.csv",
    )
    assert result.summary.line() == "3 lignes : 2 OK, 0 ALERTE, 1 ERREUR"
    assert result.exit_code == 1
    assert result.rejected_reason is None
    assert [r.line for r in read_report(result.report_path)] == [1, 2, 4]
