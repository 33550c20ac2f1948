"""Shared fixtures. Backends are real: SQLite files, the local PostgreSQL, slapd, 389-ds."""

from __future__ import annotations

import os
from pathlib import Path

# Subprocesses (`python -m profilesync …`) import the package from this tree, whatever
# is installed: a git worktree tests its own code.
_SRC = str(Path(__file__).resolve().parents[1] / "daemon")
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (_SRC, os.environ.get("PYTHONPATH", "")) if p)

pytest_plugins = ["fixtures_db", "fixtures_ldap", "fixtures_389", "daemonkit"]
