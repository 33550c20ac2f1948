"""Fault injection for the crash tests: a named point where a test subprocess kills itself.

The exactly-once guarantee (SPEC §9) is only as good as its proof, and the proof is a real
`kill -9` at each step of a file's life. `PROFILESYNC_TEST_CRASH_AT=<point>` makes the
process SIGKILL itself the first time it reaches `<point>`; unset (production), this is one
dictionary lookup.
"""

from __future__ import annotations

import os
import signal

CRASH_ENV = "PROFILESYNC_TEST_CRASH_AT"

# The points the daemon passes, in the order a file meets them.
POINTS = (
    "after_claim",  # renamed into work/, no run row yet
    "after_register",  # run row committed, nothing processed
    "mid_file",  # the importer reported progress at least once
    "after_process",  # report written, archive not started
    "after_private_copy",
    "after_archive",  # masked copy written, work file still there
    "after_unlink",  # work file removed, lock file still there
)


def crash_point(name: str) -> None:
    """SIGKILL this process when the test asked to crash here."""
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
