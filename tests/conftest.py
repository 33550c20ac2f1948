"""Shared fixtures. Backends are real: SQLite files, the local PostgreSQL, slapd, 389-ds."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# Subprocesses (`python -m profilesync …`) import the package from this tree, whatever
# is installed: a git worktree tests its own code.
_SRC = str(Path(__file__).resolve().parents[1] / "daemon")
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (_SRC, os.environ.get("PYTHONPATH", "")) if p)

pytest_plugins = ["fixtures_db", "fixtures_ldap", "fixtures_389", "daemonkit"]


def _forget_memoised_verdicts() -> None:
    """Under mutmut, a verdict memoised by an earlier test (or by the clean run the mutant was
    forked from) would answer for the mutated function without calling it: the mutant would
    survive and mutmut would not even see the later tests calling the function. Emptying the
    caches before each test makes every first call reach the code under test."""
    from profilesync.fileformat import identifiers, rules

    identifiers._read_finess_cached.cache_clear()
    identifiers._read_date_cached.cache_clear()
    identifiers._DOMAIN_KINDS.clear()
    for seen in (
        rules._EJ_SEEN,
        rules._ET_SEEN,
        rules._TEAM_SEEN,
        rules._NOM_SEEN,
        rules._PRENOM_SEEN,
        rules._DEBUT_SEEN,
        rules._FIN_SEEN,
        rules._FOLDED,
    ):
        seen.clear()
    rules._seen_year[0] = 0


@pytest.fixture(autouse=True)
def _fresh_caches_under_mutation() -> Iterator[None]:
    if os.environ.get("MUTANT_UNDER_TEST"):
        _forget_memoised_verdicts()
    yield
