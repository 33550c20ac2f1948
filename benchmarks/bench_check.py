"""`profilesync check` against the floor (a bare `csv.reader` pass) and its peak memory.

Targets (issue "foundation"): check ≤ 3× the floor; peak RSS < 150 MB at 200,000 lines.

    python -m benchmarks check                       # 100k lines, both encodings, RSS 100k/200k
    python -m benchmarks check -- --lines 20000 --repeat 1 --no-rss
    python -m benchmarks check -- --profile          # cProfile of check_file, top functions

Input files are generated once (deterministic, seeded) into benchmarks/out/ and reused.
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import io
import pstats
import random
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from functools import partial
from pathlib import Path

from benchmarks import OUT, SOURCE

GENERATOR_VERSION = 1
TARGET_RATIO = 3.0
TARGET_RSS_MB = 150.0
RSS_LINES = (100_000, 200_000)

SURNAMES = [
    "Dupont", "Lefèvre", "Garçon", "Œuvre", "N'Diaye", "Martin", "Bernard", "Petit", "Moreau",
    "Roux", "Bénard", "Müller", "Faure", "Lemaître", "Chevalier", "Da Silva", "Nguyễn", "Håkansson",
]  # fmt: skip
FIRST_NAMES = [
    "Jean", "Anaïs", "Cécile", "François", "Aminata", "Paul", "Luc", "Emma", "Hugo", "Léa",
    "Hélène", "Zoé", "Jérôme", "Noël", "Gaëlle", "Loïc", "Chloé", "Marie-Thérèse",
]  # fmt: skip
TEAMS = [
    "Urgences adultes", "Réanimation médicale", "Pédiatrie", "Soins palliatifs", "Gériatrie",
    'Réa; "nuit"',  # quoted by the writer, as spreadsheets do
]  # fmt: skip
DOCTOR_ROLES = ["CDC3D", "CDC3E", "CDC3A"]
OTHER_ROLES = ["CDC4", "CDC1", "CDC2", "SYNT", "OEC1", "OEC2"]
HEADER = (
    "Finess EJ;Finess ET;Nom de l'équipe;Code action;Nom;Prénom;N° RPPS;Rôle;Identifiant;"
    "Mot de passe;Email;Date de début;Date de fin"
)


def luhn_key(digits: str) -> str:
    """The Luhn check digit of `digits` (FINESS with Corsica mapped, RPPS)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def finess(rng: random.Random) -> str:
    body = f"{rng.choice([75, 13, 69, 1, 33, 59, 92, 94])}".zfill(2) + f"{rng.randrange(10**6):06d}"
    return body + luhn_key(body)


def rpps(rng: random.Random) -> str:
    body = "10" + f"{rng.randrange(10**8):08d}"
    return body + luhn_key(body)


def ascii_login(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c for c in plain.lower() if c.isalnum())


def fmt(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def valid_cells(rng: random.Random, n: int, establishments: list[tuple[str, str]]) -> list[str]:
    """A line that passes every stateless rule, in the proportions of a real file."""
    ej, et = rng.choice(establishments)
    nom, prenom = rng.choice(SURNAMES), rng.choice(FIRST_NAMES)
    action = rng.choices("CMS", weights=(6, 3, 1))[0]
    doctor = rng.random() < 0.4
    role = rng.choice(DOCTOR_ROLES if doctor else OTHER_ROLES)
    team = ""
    if role in {"CDC3E", "CDC3A", "CDC4"} or (role not in DOCTOR_ROLES and rng.random() < 0.3):
        team = rng.choice(TEAMS)
    login = "" if doctor else ascii_login(f"{prenom[0]}{nom}{n}")
    password = f"Pass-{n}-{rng.choice(SURNAMES)[:3]}word!" if action == "C" else ""
    mail = rng.random()
    email = (
        f"{login or 'dr' + str(n)}@aphp.mssante.fr"
        if mail < 0.7
        else (f"perso{n}@gmail.com" if mail < 0.8 else "")
    )
    start = date(2027, 1, 1) + timedelta(days=rng.randrange(365))
    debut = fmt(start) if rng.random() < 0.5 else ""
    fin = fmt(start + timedelta(days=365 + rng.randrange(700))) if rng.random() < 0.3 else ""
    return [
        ej, et, team, action, nom, prenom, rpps(rng) if doctor else "", role, login,
        password, email, debut, fin,
    ]  # fmt: skip


def damage(rng: random.Random, cells: list[str]) -> list[str]:
    """One of the mistakes référents and spreadsheets really make."""
    kind = rng.randrange(10)
    if kind == 0:
        cells[6] = cells[6][:-1] + str((int(cells[6][-1]) + 1) % 10) if cells[6] else "12345"
    elif kind == 1:
        cells[6] = "1,00001E+10"
    elif kind == 2:
        cells[1] = cells[1][:-1] + str((int(cells[1][-1]) + 3) % 10)
    elif kind == 3:
        cells[7] = "MEDECIN"
    elif kind == 4:
        cells[11] = "31/02/2027"
    elif kind == 5:
        cells[11], cells[12] = "01/06/2027", "01/01/2027"
    elif kind == 6:
        cells[4] = ""
    elif kind == 7:
        cells[9] = "court" if cells[3] == "C" else "x"
    elif kind == 8:
        cells.append("commentaire")
    else:
        cells[0] = cells[0].lstrip("0")[:8]  # Excel ate a digit (or a leading zero)
    return cells


def generate(path: Path, lines: int, encoding: str, seed: int = 20261126) -> None:
    """`lines` rows after the header: ~85 % valid, ~15 % damaged, a few blank and quoted."""
    rng = random.Random(seed)
    establishments = [(finess(rng), finess(rng)) for _ in range(40)]
    with tempfile.NamedTemporaryFile(
        "w",
        dir=path.parent,
        delete=False,
        suffix=".part",
        encoding=encoding,
        errors="replace",
        newline="",
    ) as fh:
        writer = csv.writer(fh, delimiter=";", lineterminator="\r\n")
        fh.write(HEADER + "\r\n")
        for n in range(lines):
            cells = valid_cells(rng, n, establishments)
            if rng.random() < 0.15:
                cells = damage(rng, cells)
            writer.writerow(cells)
            if rng.random() < 0.005:
                fh.write(";;;;;;;;;;;;\r\n")  # a blank row, skipped by the parser
    Path(fh.name).replace(path)


def sample_file(lines: int, encoding: str) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"check-{lines}-{encoding}-v{GENERATOR_VERSION}.csv"
    if not path.exists():
        generate(path, lines, encoding)
    return path


def floor(path: Path, encoding: str) -> int:
    """The least any checker must do: decode the file and split it into cells."""
    with path.open(encoding=encoding, newline="") as fh:
        return sum(1 for _ in csv.reader(fh, delimiter=";"))


# CPU time of this process by default: the machine is shared, and wall time would also
# measure the neighbours. `--wall` switches to wall-clock time (includes I/O and fsync).
_timer: Callable[[], float] = time.process_time


def best_of(repeat: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        started = _timer()
        fn()
        times.append(_timer() - started)
    return min(times)


def run_check(path: Path, report: Path) -> object:
    from profilesync.clock import SystemClock
    from profilesync.config import Settings
    from profilesync.fileformat.check import check_file

    return check_file(path, settings=Settings(), clock=SystemClock(), report_path=report)


_RSS_PROBE = """
import resource, subprocess, sys
proc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
if proc.returncode not in (0, 1):
    sys.exit(proc.stderr.decode())
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def peak_rss_mb(command: list[str]) -> float:
    """Peak RSS of `command`, run as the only child of a fresh probe process.

    RUSAGE_CHILDREN keeps the largest child ever waited for, so every measurement needs a
    parent of its own.
    """
    env = {"PYTHONPATH": str(SOURCE), "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-c", _RSS_PROBE, *command],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout
    return int(out.strip()) / 1024  # Linux reports KiB


def profile(path: Path, report: Path, top: int = 25) -> None:
    profiler = cProfile.Profile()
    profiler.runcall(run_check, path, report)
    buf = io.StringIO()
    pstats.Stats(profiler, stream=buf).sort_stats("tottime").print_stats(top)
    print(buf.getvalue())


def table(title: str, columns: list[str], rows: list[list[str]]) -> None:
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:  # pragma: no cover - rich is a dependency, but stay usable without
        print(title)
        print(" | ".join(columns))
        for row in rows:
            print(" | ".join(row))
        return
    t = Table(title=title)
    for i, c in enumerate(columns):
        t.add_column(c, justify="left" if i == 0 else "right")
    for row in rows:
        t.add_row(*row)
    Console().print(t)


def speed_rows(lines: int, repeat: int) -> Iterator[list[str]]:
    for encoding in ("cp1252", "utf-8"):
        path = sample_file(lines, encoding)
        with tempfile.TemporaryDirectory() as tmp:
            report = Path(tmp) / "r.csv"
            run_check(path, report)  # warm-up: imports, page cache
            bare = best_of(repeat, partial(floor, path, encoding))
            full = best_of(repeat, partial(run_check, path, report))
        ratio = full / bare
        yield [
            f"{lines:,} lines, {encoding}",
            f"{bare:.2f} s",
            f"{full:.2f} s",
            f"{ratio:.1f}×" + ("" if ratio <= TARGET_RATIO else " ✗"),
            f"{lines / full:,.0f}",
        ]


def stage_rows(lines: int, repeat: int) -> Iterator[list[str]]:
    """Where check's time goes, per line: each stage alone, on the UTF-8 file."""
    from profilesync.clock import SystemClock, today
    from profilesync.config import Settings
    from profilesync.fileformat import csvfile, rules
    from profilesync.fileformat.outcome import Outcome
    from profilesync.fileformat.report import ReportWriter

    settings = Settings()
    limits, policy = settings.limits, settings.passwords
    path = sample_file(lines, "utf-8")
    rows = list(csvfile.read_rows(path, settings.limits))
    day = today(SystemClock())
    report_row, check_row = rules.report_row, rules.check_row
    judged = [(r.number, *report_row(r, day, policy)) for r in rows]
    flagged = [(n, problems, cells) for n, cells, problems in judged if problems]
    outcomes = [Outcome.of(n, problems, cells) for n, cells, problems in judged]

    def write_report(target: Path) -> None:
        # As check_file does: OK lines without an Outcome.
        with ReportWriter(target) as writer:
            for outcome in outcomes:
                if outcome.messages:
                    writer.write(outcome)
                else:
                    writer.write_ok(outcome.line, outcome.cells)

    def bare_writer(target: Path) -> None:
        with target.open("w", encoding="utf-8", newline="") as fh:
            out = csv.writer(fh, delimiter=";", lineterminator="\r\n")
            for o in outcomes:
                out.writerow((o.line, o.code, " | ".join(o.messages), *o.cells))

    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "r.csv"
        stages: list[tuple[str, Callable[[], object]]] = [
            ("csv.reader pass (floor)", partial(floor, path, "utf-8")),
            ("csvfile.read_rows (parser)", lambda: sum(1 for _ in csvfile.read_rows(path, limits))),
            ("rules.report_row (check)", lambda: [report_row(r, day, policy) for r in rows]),
            ("rules.check_row (importer)", lambda: [check_row(r, day, policy) for r in rows]),
            ("Outcome.of (lines with problems)", lambda: [Outcome.of(*f) for f in flagged]),
            ("ReportWriter (report)", partial(write_report, target)),
            ("bare csv.writer, same rows", partial(bare_writer, target)),
        ]  # fmt: skip
        for name, fn in stages:
            seconds = best_of(repeat, fn)
            yield [name, f"{seconds * 1e6 / len(rows):.2f} µs", f"{seconds:.2f} s"]


def rss_rows(encoding: str) -> Iterator[list[str]]:
    base = peak_rss_mb([sys.executable, "-m", "profilesync", "--help"])
    yield ["python -m profilesync --help (imports only)", f"{base:.0f} MB"]
    for lines in RSS_LINES:
        path = sample_file(lines, encoding)
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [sys.executable, "-m", "profilesync", "check", str(path), "--report"]
            rss = peak_rss_mb([*cmd, str(Path(tmp) / "r.csv")])
        mark = "" if rss < TARGET_RSS_MB else " ✗"
        yield [f"profilesync check, {lines:,} lines, {encoding}", f"{rss:.0f} MB{mark}"]


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks check", description=__doc__)
    parser.add_argument("--lines", type=int, default=100_000, help="lines of the speed test")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measure (best kept)")
    parser.add_argument("--no-rss", action="store_true", help="skip the memory measures")
    parser.add_argument("--profile", action="store_true", help="cProfile check_file and stop")
    parser.add_argument("--wall", action="store_true", help="wall-clock instead of CPU time")
    args = parser.parse_args(argv)
    global _timer  # noqa: PLW0603 - a module-level switch for a command-line tool
    _timer = time.perf_counter if args.wall else time.process_time
    clock = "wall-clock" if args.wall else "CPU time"
    if args.profile:
        with tempfile.TemporaryDirectory() as tmp:
            profile(sample_file(args.lines, "utf-8"), Path(tmp) / "r.csv")
        return
    table(
        f"check vs. bare csv.reader ({clock}, best of {args.repeat}; "
        f"target ≤ {TARGET_RATIO:.0f}× floor)",
        ["input", "csv.reader (floor)", "check_file", "ratio", "lines/s (check)"],
        list(speed_rows(args.lines, args.repeat)),
    )
    table(
        f"each stage alone ({args.lines:,} lines, utf-8, {clock}, best of {args.repeat})",
        ["stage", "per line", "total"],
        list(stage_rows(args.lines, args.repeat)),
    )
    if not args.no_rss:
        table(
            f"peak RSS, fresh process (target < {TARGET_RSS_MB:.0f} MB at 200,000 lines)",
            ["command", "peak RSS"],
            list(rss_rows("cp1252")),
        )
