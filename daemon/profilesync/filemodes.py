"""Who may read what profilesync writes: never every user of the machine (issue 8).

Reports, exports and archives are read through the référents' share, whose service runs in
profilesync's group, so they are group-readable; the database (accounts, password hashes)
and `state/` (private copies of input files, which hold passwords) are the service user's
alone. The process umask narrows this further; nothing here ever widens it, so a
machine whose umask is 0 still gets no world-readable file.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

# Added to whatever umask the process has: no write for the group, nothing for others.
UMASK_BITS = 0o027
SHARED_FILE = 0o640  # reports, exports, archives: the share's group reads them
PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def tighten_umask() -> int:
    """Add UMASK_BITS to the process umask (systemd's `UMask=` may already have); the new one."""
    current = os.umask(0)
    os.umask(current | UMASK_BITS)
    return current | UMASK_BITS


def shared_mode(mode: int) -> int:
    """`mode` without anything for others: what a file the share reads may have at most."""
    return mode & SHARED_FILE


def make_private_dir(path: Path) -> None:
    """Create `path` as PRIVATE_DIR, or narrow an existing one we own to it."""
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    with contextlib.suppress(PermissionError):  # not ours: check-config tells the operator
        if path.stat().st_mode & 0o077:
            path.chmod(PRIVATE_DIR)


def make_private_files(*paths: Path) -> None:
    """Narrow existing files we own to PRIVATE_FILE (SQLite creates its -wal and -shm with
    the database file's mode, so the database file is the one that matters)."""
    for path in paths:
        with contextlib.suppress(FileNotFoundError, PermissionError):
            if path.stat().st_mode & 0o077:
                path.chmod(PRIVATE_FILE)
