"""`--since` (runs, audit): what an operator types → an instant, for any date (hypothesis)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from profilesync.clock import InvalidInstant, parse_since

PARIS = ZoneInfo("Europe/Paris")
DAYS = st.dates(min_value=date(1971, 1, 1), max_value=date(2099, 12, 31))


@given(DAYS)
def test_a_day_is_its_midnight_in_paris_in_both_spellings(day: date) -> None:
    midnight = datetime.combine(day, time(0, 0), tzinfo=PARIS).astimezone(UTC)
    assert parse_since(day.isoformat(), PARIS) == midnight
    assert parse_since(day.strftime("%d/%m/%Y"), PARIS) == midnight
    assert parse_since(f"  {day.isoformat()} ", PARIS) == midnight


@given(DAYS, st.integers(0, 23), st.integers(0, 59))
def test_a_time_with_an_offset_keeps_it(day: date, hour: int, minute: int) -> None:
    text = f"{day.isoformat()}T{hour:02d}:{minute:02d}+00:00"
    assert parse_since(text, PARIS) == datetime.combine(day, time(hour, minute), tzinfo=UTC)
    assert parse_since(text.replace("+00:00", "Z"), PARIS) == datetime.combine(
        day, time(hour, minute), tzinfo=UTC
    )


@given(
    st.text(max_size=30)
    | st.datetimes(timezones=st.none() | st.timezones()).map(datetime.isoformat)
    | st.dates().map(lambda d: d.strftime("%d/%m/%Y"))
)
def test_any_text_is_an_aware_instant_or_one_clear_error(text: str) -> None:
    try:
        moment = parse_since(text, PARIS)
    except InvalidInstant as exc:
        assert str(exc).startswith(f"--since {text!r}: give a date")
    else:
        assert moment.tzinfo is UTC


@pytest.mark.parametrize(
    "text",
    ["31/02/2026", "2026-13-01", "yesterday", "", "1/1/26", "0001-01-01", "01/01/0001"],
)
def test_not_a_date(text: str) -> None:
    with pytest.raises(InvalidInstant):
        parse_since(text, PARIS)
