"""File → database → directory converged: the import and the directory worker together.

    python -m benchmarks pipeline                        # 2,000 lines (the issue's size: 20,000)
    python -m benchmarks pipeline -- --lines 20000 --postgres --nosync

The mixed file of `bench_import` (60 % C of new accounts, 30 % M, 10 % S of seeded
profiles) is imported in the main thread while `ldapsync.run_forever` runs in a background
thread against a fresh slapd, as the daemon runs them. t_converged runs from the start of
the import until the import is done AND the directory queue is empty (`ldapsync.backlog`).

Floors, measured in the same run:
- **hash floor**: the C lines' hashes × time per hash (the import's own argon2 settings)
  ÷ cores;
- **ldapadd floor**: `ldapadd -c` of an LDIF holding as many people as the converged
  directory (plus the skeletons and group memberships), into a second fresh slapd with the
  same durability.

Target: t_converged ≤ 1.15 × max(floors) — hashing, database and directory work overlap.
The timeline (first push, what was pushed while the import still ran, the tail after it)
says where the time goes; `--import-alone` (default on) also times the same import with no
directory worker, on a fresh database.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from benchmarks import use_source_tree

use_source_tree()

from benchmarks.bench_directory import _hash_floor, _ldapadd, _ldif, _people  # noqa: E402
from benchmarks.bench_import import (  # noqa: E402
    PASSWORD,
    database,
    mixed_file,
    seed,
    settings_for,
)
from profilesync.clock import SystemClock  # noqa: E402
from profilesync.config import PasswordSettings  # noqa: E402
from profilesync.directory import slapd  # noqa: E402
from profilesync.directory import sync as ldapsync  # noqa: E402
from profilesync.directory.tree import Tree  # noqa: E402
from profilesync.secret import Secret  # noqa: E402
from profilesync.store import db  # noqa: E402
from profilesync.store.importer import RunResult, import_file  # noqa: E402
from profilesync.store.passwords import Hasher, default_workers  # noqa: E402


@dataclass
class Timeline:
    """Every directory burst the worker ran: (start, end, changes pushed), from t0.

    A burst that raised (e.g. SQLite's "database is locked") is kept in `failed`.
    """

    t0: float = 0.0
    bursts: list[tuple[float, float, int]] = field(default_factory=list)
    failed: list[tuple[float, float, str]] = field(default_factory=list)

    def first_push(self) -> float | None:
        return next((start for start, _, pushed in self.bursts if pushed), None)

    def pushed_before(self, t: float) -> int:
        return sum(pushed for _, end, pushed in self.bursts if end <= t)

    def busy(self) -> float:
        return sum(end - start for start, end, pushed in self.bursts if pushed)

    def overlap(self, until: float) -> float:
        """Seconds of pushing bursts that fell before `until` (the import's end)."""
        return sum(max(0.0, min(end, until) - start) for start, end, p in self.bursts if p)


@dataclass
class Converged:
    t_import: float
    t_converged: float
    result: RunResult
    timeline: Timeline
    backlog: ldapsync.Backlog
    people: int


def _instrument(timeline: Timeline) -> None:
    """Record each burst: `run_forever` looks `sync_once` up in its module at every call."""
    original = ldapsync.sync_once

    def recorded(*args: object, **kwargs: object) -> ldapsync.SyncReport:
        start = time.perf_counter() - timeline.t0
        try:
            report = original(*args, **kwargs)  # type: ignore[arg-type]
        except Exception as exc:
            timeline.failed.append(
                (start, time.perf_counter() - timeline.t0, str(exc).split("\n")[0][:70])
            )
            raise
        timeline.bursts.append((start, time.perf_counter() - timeline.t0, report.pushed))
        return report

    ldapsync.sync_once = recorded


def _count_people(inst: slapd.Instance) -> int:
    tree = Tree.from_settings(inst.settings())
    out = subprocess.run(
        [
            *("ldapsearch", "-x", "-LLL", "-H", inst.url, "-D", inst.root_dn),
            *("-y", str(inst.password_file), "-b", tree.people_dn, "-s", "one", "1.1"),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return sum(1 for line in out.splitlines() if line.startswith("dn:"))


def _converge(args: argparse.Namespace, csv: Path, tmp: Path, stored: str) -> Converged:
    """Import `csv` with a directory worker running; until the queue is empty."""
    inst = slapd.start(tmp / "slapd-pipeline", nosync=args.nosync)
    try:
        with database(args.engine, tmp) as url:
            seed(url, args.lines, stored)
            settings = settings_for(url, tmp, cheap_hash=False)
            settings = settings.with_overrides(ldap=asdict(inst.settings()))
            engine = db.make_engine(url)
            factory = db.session_factory(engine)
            clock = SystemClock()
            timeline, stop = Timeline(), threading.Event()
            original = ldapsync.sync_once
            _instrument(timeline)
            worker = threading.Thread(
                target=ldapsync.run_forever,
                args=(factory, settings),
                kwargs={"clock": clock, "stop": stop, "interval": args.interval},
                name="directory",
            )
            try:
                timeline.t0 = time.perf_counter()
                worker.start()
                result = import_file(
                    csv,
                    "bench",
                    settings=settings,
                    session_factory=factory,
                    clock=clock,
                    report_path=tmp / "pipeline.rapport.csv",
                )
                t_import = time.perf_counter() - timeline.t0
                deadline = time.perf_counter() + args.timeout
                while True:
                    with factory() as session:
                        left = ldapsync.backlog(session, clock.now())
                    if left.due + left.waiting == 0 or time.perf_counter() > deadline:
                        break
                    stop.wait(args.poll)
                t_converged = time.perf_counter() - timeline.t0
            finally:
                stop.set()
                worker.join()
                ldapsync.sync_once = original
                engine.dispose()
        people = _count_people(inst)
    finally:
        slapd.stop(inst)
    return Converged(t_import, t_converged, result, timeline, left, people)


def _import_alone(args: argparse.Namespace, csv: Path, tmp: Path, stored: str) -> float:
    """The same import on a fresh database, no directory worker: what the worker adds."""
    with database(args.engine, tmp) as url:
        seed(url, args.lines, stored)
        engine = db.make_engine(url)
        started = time.perf_counter()
        import_file(
            csv,
            "bench",
            settings=settings_for(url, tmp, cheap_hash=False),
            session_factory=db.session_factory(engine),
            clock=SystemClock(),
            report_path=tmp / "alone.rapport.csv",
        )
        took = time.perf_counter() - started
        engine.dispose()
    return took


def _pool_hashing(n: int) -> float:
    """n hashes through the importer's own pool (`Hasher`, one worker per core), nothing else."""
    hasher = Hasher(PasswordSettings())
    try:
        started = time.perf_counter()
        futures = [hasher.submit(Secret(f"{PASSWORD}-{i}")) for i in range(n)]
        for future in futures:
            future.result()
        return time.perf_counter() - started
    finally:
        hasher.close()


def _ldapadd_floor(args: argparse.Namespace, people: int, hashes: list[str], tmp: Path) -> float:
    inst = slapd.start(tmp / "slapd-floor", nosync=args.nosync)
    try:
        ldif = tmp / "floor.ldif"
        tree = Tree.from_settings(inst.settings())
        ldif.write_text(_ldif(tree, _people(people), hashes), encoding="utf-8")
        return _ldapadd(inst, ldif)
    finally:
        slapd.stop(inst)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench_pipeline")
    parser.add_argument("--lines", type=int, default=2_000, help="the issue's size is 20000")
    parser.add_argument("--postgres", dest="engine", action="store_const", const="postgresql")
    parser.add_argument("--nosync", action="store_true", help="slapd dbnosync (not durable)")
    parser.add_argument("--interval", type=float, default=1.0, help="worker idle wait, s")
    parser.add_argument("--poll", type=float, default=0.05, help="convergence poll, s")
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument("--hash-sample", type=int, default=16)
    parser.add_argument("--no-import-alone", dest="alone", action="store_false")
    parser.set_defaults(engine="sqlite")
    args = parser.parse_args(argv)
    if slapd.find_slapd() is None:
        print("slapd is not installed: nothing measured")
        return
    # The floor's time per hash must be the import's: same (default) argon2 settings.
    tmp_probe = Path(tempfile.gettempdir())
    assert settings_for("sqlite://", tmp_probe, cheap_hash=False).passwords == PasswordSettings()
    cores = default_workers()
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp_name:
        tmp = Path(tmp_name)
        csv = tmp / f"mixed-{args.lines}.csv"
        n_hash = mixed_file(csv, args.lines)
        stored = Hasher(PasswordSettings(), workers=1).hash(Secret(PASSWORD))
        run = _converge(args, csv, tmp, stored)
        hash_floor, hashes = _hash_floor(n_hash, args.hash_sample)
        ldapadd = _ldapadd_floor(args, run.people, hashes, tmp)
        alone = _import_alone(args, csv, tmp, stored) if args.alone else None
        pool = _pool_hashing(n_hash) if args.alone else None
    _print(args, cores, n_hash, run, hash_floor, ldapadd, alone, pool)


def _print(  # noqa: PLR0917 - private, called once
    args: argparse.Namespace,
    cores: int,
    n_hash: int,
    run: Converged,
    hash_floor: float,
    ldapadd: float,
    alone: float | None,
    pool: float | None,
) -> None:
    floor = max(hash_floor, ldapadd)
    durability = "dbnosync" if args.nosync else "fsync"
    summary = run.result.summary
    print(
        f"{args.lines} lines ({n_hash} hashes), {args.engine}, slapd {durability}, "
        f"{cores} cores, worker interval {args.interval} s"
    )
    print(f"{'measure':<40} {'value':>10}")
    print(f"{'t_converged (file → directory)':<40} {run.t_converged:>9.1f}s")
    print(f"{'hash floor (hashes×t_hash÷cores)':<40} {hash_floor:>9.1f}s")
    print(f"{f'ldapadd floor ({run.people} people)':<40} {ldapadd:>9.1f}s")
    print(f"{'ratio t_converged / max(floors)':<40} {run.t_converged / floor:>10.2f}")
    print(f"{'target':<40} {1.15:>10.2f}")
    print("timeline (from t0)")
    first = run.timeline.first_push()
    print(f"{'  import done (report written)':<40} {run.t_import:>9.1f}s")
    if alone is not None:
        print(f"{'  same import, no directory worker':<40} {alone:>9.1f}s")
    if pool is not None:
        print(f"{'  the same hashes, Hasher pool alone':<40} {pool:>9.1f}s")
    shown = "—" if first is None else f"{first:.1f}s"
    print(f"{'  first change pushed (burst start)':<40} {shown:>10}")
    print(f"{'  directory busy (bursts that pushed)':<40} {run.timeline.busy():>9.1f}s")
    print(f"{'  … of which while the import ran':<40} {run.timeline.overlap(run.t_import):>9.1f}s")
    for start, end, error in run.timeline.failed:
        print(f"  burst failed {start:.1f}s → {end:.1f}s: {error}")
    print(f"{'  tail after the import':<40} {run.t_converged - run.t_import:>9.1f}s")
    print(
        f"report: {summary.ok} OK, {summary.alerte} ALERTE, {summary.erreur} ERREUR; "
        f"queue left: {tuple(run.backlog)}; {len(run.timeline.bursts)} bursts"
    )
