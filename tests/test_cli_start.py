"""The commands a référent's helper or a script runs most must start fast (issue 11.4).

`--help`, `template` and `check` need neither the database nor the directory, so they must
not import SQLAlchemy, Alembic or ldap3 (≈ 0.5 s of start-up between them). What is
asserted is behaviour — which modules a fresh process loaded — never a duration; the
timing is in benchmarks/bench_cli_start.py. A failure names the chain of profilesync
modules that pulled the heavy one in, so that a command added later that imports the
store at the top of its cli module is found at once: import it inside the command.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from clikit import DEADLINE, write_config

HEAVY = ("sqlalchemy", "alembic", "ldap3")

# Runs `profilesync ARGS` in this fresh process and prints, as JSON, for each heavy package
# imported, the profilesync modules on the stack when it was first looked for.
_PROBE = """
import json, sys, traceback
HEAVY = {heavy!r}
seen = {{}}

class Witness:
    def find_spec(self, name, path=None, target=None):
        top = name.split(".")[0]
        if top in HEAVY and top not in seen:
            seen[top] = [
                f.filename.rsplit("daemon/", 1)[-1]
                for f in traceback.extract_stack()
                if "/profilesync/" in f.filename
            ]
        return None

sys.meta_path.insert(0, Witness())
sys.argv = ["profilesync", *{args!r}]
from profilesync.cli import main
try:
    main()
except SystemExit:
    pass
print("\\n" + json.dumps(seen), file=sys.stderr)
"""


def heavy_imports(*args: str) -> dict[str, list[str]]:
    """Heavy package → the profilesync files (outermost first) that imported it."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE.format(heavy=HEAVY, args=list(args))],
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        check=False,
    )
    last = done.stderr.strip().splitlines()[-1]
    return dict(json.loads(last))


def explain(found: dict[str, list[str]]) -> str:
    return "; ".join(f"{pkg} imported by {' -> '.join(chain)}" for pkg, chain in found.items())


def sample_file(tmp_path: Path) -> Path:
    """A valid one-line import file (SPEC §3), so that `check` runs its rules."""
    header = (
        "Action;Identifiant;Nom;Prénom;Email MSSanté;Mot de passe;RPPS;Finess EJ;Finess ET;"
        "Service;Rôle;Date début;Date fin"
    )
    path = tmp_path / "fichier.csv"
    path.write_text(header + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("args", [["--help"], ["template"], ["check", "--help"]])
def test_light_commands_import_no_database_or_directory_library(args: list[str]) -> None:
    found = heavy_imports(*args)
    assert found == {}, explain(found)


def test_check_of_a_file_imports_no_database_or_directory_library(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    found = heavy_imports(
        "check", str(sample_file(tmp_path)), "--report", str(tmp_path / "r.csv"),
        "--config", str(config),
    )  # fmt: skip
    assert found == {}, explain(found)
    assert (tmp_path / "r.csv").is_file()  # the command did run to its report


def test_the_witness_sees_a_command_that_needs_the_database(tmp_path: Path) -> None:
    """Fault of the probe itself: it must see the store when a command does load it."""
    config = write_config(tmp_path, database={"url": f"sqlite:///{tmp_path / 'db.sqlite'}"})
    found = heavy_imports("db", "status", "--config", str(config))
    assert "sqlalchemy" in found
    assert any(f.endswith("cli/admin.py") for f in found["sqlalchemy"]), explain(found)
