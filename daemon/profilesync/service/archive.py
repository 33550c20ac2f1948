"""After a run: keep a masked archive and a private copy, then take the file out of work/.

Each step checks whether it is already done, so a process killed anywhere in here is
finished by whoever next holds the file's lock, and the order makes every crash safe:

1. private copy (passwords kept, mode 0600) in `state/private/<login>/`, for `rerun`;
2. masked archive in `state/archive/<login>/` (see `masking`);
3. both paths recorded on the run;
4. the work file removed — last, since its presence is what says "not finished".

A file the daemon could not read is moved (not copied) to the private folder: it cannot be
masked, so it gets no archive, and it is purged with the private copies.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from profilesync import layout
from profilesync.config import Settings
from profilesync.faults import crash_point
from profilesync.fileformat.masking import mask_passwords
from profilesync.store.model import ImportRun

log = logging.getLogger(__name__)

PRIVATE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700


def write_atomic(path: Path, data: bytes, mode: int) -> None:
    """Temp file beside `path`, fsync, rename: a reader sees the whole file or none."""
    tmp = path.with_name(f".{path.name}.tmp-{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.chmod(mode)  # the umask may have narrowed it; never widened
        tmp.replace(path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def finish(run_id: int, settings: Settings, session_factory: sessionmaker[Session]) -> None:
    """Archive the run's work file and remove it; a no-op once done."""
    with session_factory() as session:
        run = session.get(ImportRun, run_id)
        if run is None or not run.work_path:
            return
        work = Path(run.work_path)
        private = layout.private_path(settings, work)
        archived = layout.archive_path(settings, work)
        private.parent.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR_MODE)
        archived.parent.mkdir(parents=True, exist_ok=True)
        keep_archive = True
        if work.exists():
            try:
                data = work.read_bytes()
            except OSError as exc:
                log.warning(
                    "run %s: %s unreadable (%s): kept privately only",
                    run_id,
                    work.name,
                    exc.strerror,
                )
                work.replace(private)
                data, keep_archive = None, False
            if data is not None:
                if not private.exists():
                    write_atomic(private, data, PRIVATE_MODE)
                crash_point("after_private_copy")
                masked = mask_passwords(data, settings.passwords)
                if masked is None:
                    keep_archive = False
                elif not archived.exists():
                    write_atomic(archived, masked, 0o640)
                crash_point("after_archive")
        else:
            keep_archive = archived.exists()
        run.private_copy_path = str(private) if private.exists() else None
        run.archive_path = str(archived) if keep_archive else None
        session.commit()
    with contextlib.suppress(FileNotFoundError):
        work.unlink()
    crash_point("after_unlink")
