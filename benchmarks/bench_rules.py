"""`rules.check_row` alone, per kind of line, against the floor (a bare `csv.reader` pass).

The file-level target (check ≤ 3× the floor) is bench_check's; this one says how much of
that budget the stateless rules take, line kind by line kind: `check_row` (the importer's,
with the Line) and `report_row` (check's, without). The ratio is check_row's.

    python -m benchmarks rules                      # from the repository root
    python benchmarks/bench_rules.py --rows 20000   # alone
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
import timeit
from dataclasses import dataclass
from datetime import date
from pathlib import Path

LINES = {
    "C doctor (team, password, email, date)": (
        "750712184;750100125;Urgences adultes;C;Dupont;Jean;10100473148;CDC3E;;"
        "Tr3s-Secret-Pass!;jean.dupont@aphp.mssante.fr;01/01/2026;"
    ),
    "C non-doctor (password)": (
        "750712184;750100125;;C;Garçon;Cécile;;CDC1;cgarcon;Un-Mot2Passe-Long;;;"
    ),
    "M export line (no password)": (
        "750712184;750100125;;M;Dupont;Jean;10100473148;CDC3D;;;"
        "jean.dupont@aphp.mssante.fr;01/01/2026;31/12/2027"
    ),
    "S": "750712184;750100125;;S;Roux;Léa;;OEC1;lroux;;;;",
    "ERREUR (3 problems)": ("75071218;750100125;;C;Dupont;Jean;1,00001E+10;CDC3D;;court;;45292;"),
}


@dataclass(frozen=True)
class _Row:
    number: int
    cells: tuple[str, ...]


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench_rules")
    parser.add_argument("--rows", type=int, default=50_000, help="calls per measurement")
    parser.add_argument("--repeat", type=int, default=5, help="best of N")
    args = parser.parse_args(argv)

    from profilesync.config import PasswordSettings
    from profilesync.fileformat.rules import check_row, report_row

    policy, today = PasswordSettings(), date(2026, 11, 26)
    print(
        f"{'line':42s} {'check_row µs':>13s} {'report_row µs':>14s} {'csv floor µs':>13s}"
        f" {'ratio':>6s}"
    )
    for name, line in LINES.items():
        row = _Row(2, tuple(line.split(";")))
        data = (line + "\r\n") * args.rows

        def floor(data: str = data) -> None:
            for _ in csv.reader(io.StringIO(data), delimiter=";"):
                pass

        def rules(row: _Row = row) -> None:
            for _ in range(args.rows):
                check_row(row, today, policy)

        def judge(row: _Row = row) -> None:
            for _ in range(args.rows):
                report_row(row, today, policy)

        # Interleaved, best of N: the machine is shared, so all see the same load.
        floors, rules_, judged = [], [], []
        for _ in range(args.repeat):
            floors.append(timeit.timeit(floor, number=1))
            rules_.append(timeit.timeit(rules, number=1))
            judged.append(timeit.timeit(judge, number=1))
        per_floor = min(floors) / args.rows * 1e6
        per_rule = min(rules_) / args.rows * 1e6
        per_judge = min(judged) / args.rows * 1e6
        print(
            f"{name:42s} {per_rule:13.2f} {per_judge:14.2f} {per_floor:13.2f}"
            f" {per_rule / per_floor:6.1f}"
        )


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "daemon"))
    main(sys.argv[1:])
