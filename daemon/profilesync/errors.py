"""The one base of every error profilesync raises on purpose, and the exit codes of SPEC §10.

The library raises small classes with messages that say how to fix the problem; it never
prints nor exits. The CLI's root group turns any of them into `error: <message>` on stderr
and the class's exit code, in one place, so a command only catches what it can add to.
Errors that are not ours (a bug, a driver failure nobody translated) keep their traceback.
"""

from __future__ import annotations

from typing import ClassVar

EXIT_OK = 0
EXIT_LINE_ERRORS = 1
EXIT_REJECTED = 2


class ProfilesyncError(Exception):
    """Something profilesync refuses or cannot do; the message is meant for the operator."""

    # The command or file is rejected as a whole: what every error of ours means today.
    exit_code: ClassVar[int] = EXIT_REJECTED
