"""The clock is injected, never read inside the rules: tests travel in time with `FixedClock`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from profilesync.errors import ProfilesyncError

PARIS = ZoneInfo("Europe/Paris")


class Clock(Protocol):
    def now(self) -> datetime:
        """An aware UTC datetime."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class FixedClock:
    """A clock that only moves when told to."""

    current: datetime

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current += delta


def today(clock: Clock, tz: ZoneInfo = PARIS) -> date:
    """The establishment's calendar date: début/fin are days in Europe/Paris (SPEC §3)."""
    return clock.now().astimezone(tz).date()


class InvalidInstant(ProfilesyncError):
    """A `--since` value that is neither a date nor a date and time."""


def parse_since(text: str, tz: ZoneInfo = PARIS) -> datetime:
    """What an operator types after `--since`, as an aware UTC instant.

    `2026-12-01` (or `01/12/2026`) is that day's midnight in `tz`; `2026-12-01T08:30` is
    local time in `tz` unless it names its own offset (`…+00:00`, `…Z`).
    """
    value = text.strip()
    try:
        if "/" in value:
            moment = datetime.strptime(value, "%d/%m/%Y")
        else:
            moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=tz)
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):  # not a date; a year 1 or 9999 off the calendar
        raise InvalidInstant(
            f"--since {text!r}: give a date (2026-12-01 or 01/12/2026) "
            "or a date and time (2026-12-01T08:30)"
        ) from None
