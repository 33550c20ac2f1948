"""Logging for the daemon: one line per file and per job; text for humans, JSON for journald/ELK.

Records carry their structured fields (`run_id`, `file`, `counts`, `seconds`, `job`) as
`extra=`, which the JSON format emits as keys. No secret is ever passed to a log call:
passwords never leave the importer's `Secret`, and the LDAP bind password never reaches
the settings' repr.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        out.update((k, v) for k, v in vars(record).items() if k not in _STANDARD)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


# Control characters a message may carry from outside (a file name with a newline or an
# escape sequence): in a text log they would forge a line or recolour a terminal.
_CONTROLS = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F)}


class TextFormatter(logging.Formatter):
    """One record, one line: the message's control characters are shown escaped (`\\x0a`);
    a traceback keeps its own line breaks, after the line."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return super().formatMessage(record).translate(_CONTROLS)


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is now (a test runner swaps it between commands)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def configure(fmt: str = "text", level: str = "INFO") -> None:
    """Log to stderr (journald captures it); `fmt` is "text" or "json"."""
    handler = _Stderr()
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        # journald adds its own timestamp; a terminal or file reader wants one.
        handler.setFormatter(TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # APScheduler logs every execution at INFO: our own job line is enough.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
