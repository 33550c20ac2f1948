"""`python tests/daemon_harness.py ARGS…` = `profilesync ARGS…`, with the test-only csvfile
stand-in installed when the parser branch has not landed yet (see daemonkit)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "daemon"))

from daemonkit import ensure_csvfile

ensure_csvfile()

from profilesync.cli import main  # noqa: E402

main()
