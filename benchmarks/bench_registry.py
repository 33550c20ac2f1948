"""Bulk registration (issue 11.4): `establishment import` of N establishments and
`referent import` of N référents, through the real CLI in a fresh process, on SQLite.

Target: 3,000 establishments in seconds (one `establishment add` per establishment costs
a process start each, ≈ 0.6 s: half an hour). Measured: the first import (all added) and
the second (all unchanged), wall time including the process start; and the start of the
light commands (`--help`, `template`), whose floor is the interpreter alone.
`python3 -m benchmarks registry -- [N]` (default 3000).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from stdnum import luhn

from benchmarks import SOURCE


def finess(department: int, serial: int) -> str:
    """A valid FINESS: département, 6 digits, Luhn key over the nine."""
    body = f"{department:02d}{serial:06d}"
    return body + luhn.calc_check_digit(body)


def _run(args: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "profilesync", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{args}: exit {done.returncode}: {done.stderr[-500:]}")
    return took


def _best(args: list[str], env: dict[str, str], repeat: int = 5) -> float:
    return min(_run(args, env) for _ in range(repeat))


def main(argv: list[str]) -> None:
    n = int(argv[0]) if argv else 3000
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        env = {
            **os.environ,
            "PYTHONPATH": str(SOURCE),
            "PROFILESYNC_CONFIG": "",
            "PROFILESYNC_DATABASE_URL": f"sqlite:///{root / 'bench.db'}",
        }
        ets = root / "etablissements.csv"
        ej = finess(75, 0)
        rows = [
            f"{ej};{finess(10 + i // 100_000, i % 100_000 + 1)};Établissement {i}" for i in range(n)
        ]
        ets.write_text("EJ;ET;Nom\n" + "\n".join(rows) + "\n", encoding="utf-8")
        refs = root / "referents.csv"
        refs.write_text(
            "login;ET\n"
            + "\n".join(f"ref{i:05d};{row.split(';')[1]}" for i, row in enumerate(rows))
            + "\n",
            encoding="utf-8",
        )
        print(f"{'what':<44} {'seconds':>8}")
        print(
            f"{'python -c pass (interpreter floor)':<44} "
            f"{min(_time_floor() for _ in range(5)):>8.3f}"
        )
        print(f"{'profilesync --help (best of 5)':<44} {_best(['--help'], env):>8.3f}")
        print(f"{'profilesync template (best of 5)':<44} {_best(['template'], env):>8.3f}")
        _run(["db", "upgrade"], env)
        print(
            f"{'establishment import, ' + str(n) + ' added':<44} "
            f"{_run(['establishment', 'import', str(ets)], env):>8.3f}"
        )
        print(
            f"{'establishment import again, all unchanged':<44} "
            f"{_run(['establishment', 'import', str(ets)], env):>8.3f}"
        )
        print(
            f"{'referent import, ' + str(n) + ' added':<44} "
            f"{_run(['referent', 'import', str(refs)], env):>8.3f}"
        )
        print(
            f"{'referent import again, all unchanged':<44} "
            f"{_run(['referent', 'import', str(refs)], env):>8.3f}"
        )


def _time_floor() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - start
