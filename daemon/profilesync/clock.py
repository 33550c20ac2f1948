"""The clock is injected, never read inside the rules: tests travel in time with `FixedClock`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

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
