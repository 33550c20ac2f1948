"""Is a daemon alive? Each one keeps `state/daemons/<host>-<pid>.json` fresh.

A file per daemon (not a row) because `status` must answer even when the database is the
thing that is down, and because several daemons may share one state folder. A clean exit
removes its file; a killed daemon's file goes stale and `status` says since when. Once
silent for `DROP_AFTER_SECONDS` (and ten beats), the daemon is dead, not late: the
`status` that shows it so removes its file, so that a dead host does not linger forever.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from profilesync import layout
from profilesync.config import Settings


@dataclass
class Beat:
    host: str
    pid: int
    started_at: str
    beat_at: str
    state: str  # starting | idle | processing <file> | stopping
    interval_seconds: float


def identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Heartbeat:
    def __init__(self, settings: Settings, started_at: datetime, interval: float) -> None:
        self.path = layout.heartbeat_path(settings, socket.gethostname(), os.getpid())
        self._beat = Beat(
            host=socket.gethostname(),
            pid=os.getpid(),
            started_at=started_at.isoformat(),
            beat_at=started_at.isoformat(),
            state="starting",
            interval_seconds=interval,
        )

    def beat(self, now: datetime, state: str | None = None) -> None:
        if state is not None:
            self._beat.state = state
        self._beat.beat_at = now.isoformat()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        tmp.write_text(json.dumps(asdict(self._beat)), encoding="utf-8")
        tmp.replace(self.path)

    def remove(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


DROP_AFTER_SECONDS = 300.0


def dead(beat: dict[str, Any], age_seconds: float) -> bool:
    """Silent long enough to be dead: a few minutes, and never under ten beats."""
    interval = float(beat.get("interval_seconds") or 0.0)
    return age_seconds > max(DROP_AFTER_SECONDS, 10 * interval)


def drop(settings: Settings, beat: dict[str, Any]) -> bool:
    """Remove a dead daemon's file; False when it cannot be (a read-only state folder)."""
    try:
        layout.heartbeat_path(settings, str(beat["host"]), int(beat["pid"])).unlink()
    except (OSError, KeyError, ValueError):
        return False
    return True


def read_all(settings: Settings) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    root = layout.daemons_root(settings)
    if not root.is_dir():
        return out
    for path in sorted(root.glob("*.json")):
        with contextlib.suppress(OSError, ValueError):
            out.append(json.loads(path.read_text(encoding="utf-8")))
    return out


def sweep_gone(settings: Settings, is_gone: Any) -> list[str]:
    """Remove the heartbeat files of daemons of this host whose process is gone (a kill -9
    leaves its file behind); `is_gone(owner, started_at)` judges. The names removed."""
    removed = []
    for beat in read_all(settings):
        owner = f"{beat.get('host')}:{beat.get('pid')}"
        with contextlib.suppress(KeyError, ValueError):
            if is_gone(owner, datetime.fromisoformat(beat["started_at"])):
                path = layout.heartbeat_path(settings, str(beat["host"]), int(beat["pid"]))
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    removed.append(path.name)
    return removed
