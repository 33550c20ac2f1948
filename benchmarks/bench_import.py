"""`profilesync import` speed: a mixed file on both engines, and the unchanged re-import.

    python -m benchmarks import                          # 20k mixed lines, 100k re-import
    python -m benchmarks import -- --lines 2000 --export-size 10000 --no-postgres

(a) A mixed file (60 % C of new accounts, 30 % M, 10 % S of existing profiles) from file to
report, on SQLite and PostgreSQL (`PROFILESYNC_TEST_POSTGRES_URL`, default
postgresql+psycopg://postgres@127.0.0.1:5432/test; a throwaway database is created and
dropped). The time is split into hashing and the rest by running the same file again with a
negligible argon2 cost; the hashing floor is N hashes × time per hash ÷ cores.
(b) The unchanged re-import of a 100k-profile export (target ≥ 50,000 lines/s on SQLite).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from benchmarks import use_source_tree

use_source_tree()

import sqlalchemy as sa  # noqa: E402

from profilesync.clock import FixedClock  # noqa: E402
from profilesync.config import Settings  # noqa: E402
from profilesync.fileformat.columns import COLUMNS  # noqa: E402
from profilesync.secret import Secret  # noqa: E402
from profilesync.store import db  # noqa: E402
from profilesync.store.exports import export_establishment  # noqa: E402
from profilesync.store.importer import import_file  # noqa: E402
from profilesync.store.model import Account, Establishment, Profile, Referent  # noqa: E402
from profilesync.store.model import ReferentEstablishment as RefEst  # noqa: E402
from profilesync.store.passwords import Hasher, default_workers  # noqa: E402

EJ, ET = "750712184", "750100125"
NOW = datetime(2026, 3, 15, 10, tzinfo=UTC)
PASSWORD = "Correct-Horse-42"
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _spelt(n: int) -> str:
    """`n` in letters (0 -> a … 9 -> j): a Nom holds no digit (SPEC 2b)."""
    return "".join(chr(ord("a") + int(d)) for d in str(n))


@contextmanager
def database(engine_name: str, tmp: Path) -> Iterator[str]:
    """A fresh migrated database: a SQLite file, or a throwaway PostgreSQL database."""
    if engine_name == "sqlite":
        url = f"sqlite:///{tmp / f'{uuid.uuid4().hex}.db'}"
        db.upgrade(url)
        yield url
        return
    base = sa.make_url(os.environ.get("PROFILESYNC_TEST_POSTGRES_URL", PG_DEFAULT))
    name = f"bench_import_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = base.set(database=name).render_as_string(hide_password=False)
    try:
        db.upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def seed(url: str, accounts: int, stored_hash: str) -> None:
    """The ET, its référent and `accounts` accounts with one active profile each (bulk)."""
    engine = db.make_engine(url)
    with engine.begin() as conn:
        est = conn.execute(
            sa.insert(Establishment.__table__).returning(Establishment.id),
            {"et": ET, "ej": EJ, "name": "bench", "created_at": NOW},
        ).scalar_one()
        ref = conn.execute(
            sa.insert(Referent.__table__).returning(Referent.id),
            {"login": "bench", "created_at": NOW},
        ).scalar_one()
        conn.execute(sa.insert(RefEst.__table__), {"referent_id": ref, "establishment_id": est})
        for start in range(0, accounts, 10_000):
            ids = range(start, min(accounts, start + 10_000))
            rows = [
                {
                    "key": f"s{i:07d}",
                    "doctor": False,
                    "rpps": None,
                    "nom": f"Nom{_spelt(i)}",
                    "prenom": "Pré",
                    "email": None,
                    "password_hash": stored_hash,
                    "password_set_at": NOW,
                    "locked": False,
                    "created_at": NOW,
                    "updated_at": NOW,
                }
                for i in ids
            ]
            got = conn.execute(
                sa.insert(Account.__table__).returning(Account.id, sort_by_parameter_order=True),
                rows,
            )
            conn.execute(
                sa.insert(Profile.__table__),
                [
                    {
                        "account_id": r.id,
                        "establishment_id": est,
                        "role": "CDC1",
                        "team_id": None,
                        "debut": None,
                        "fin": None,
                        "state": "active",
                        "created_at": NOW,
                        "updated_at": NOW,
                    }
                    for r in got
                ],
            )
    engine.dispose()


def mixed_file(path: Path, lines: int) -> int:
    """60 % C of new accounts, 30 % M (email) and 10 % S of seeded profiles; C count back."""
    n_c, n_m = lines * 6 // 10, lines * 3 // 10
    n_s = lines - n_c - n_m
    out = [";".join(COLUMNS)]
    for i in range(n_c):
        out.append(f"{EJ};{ET};;C;Nouveau{_spelt(i)};Léa;;CDC1;n{i:07d};{PASSWORD}-{i};;;")
    for i in range(n_m):
        out.append(f"{EJ};{ET};;M;Nom{_spelt(i)};Pré;;CDC1;s{i:07d};;s{i}@mssante.fr;;")
    for i in range(n_m, n_m + n_s):
        out.append(f"{EJ};{ET};;S;Nom{_spelt(i)};Pré;;CDC1;s{i:07d};;;;")
    path.write_text("\r\n".join(out) + "\r\n", encoding="utf-8")
    return n_c


def settings_for(url: str, tmp: Path, *, cheap_hash: bool) -> Settings:
    passwords = {"argon2_time_cost": 1, "argon2_memory_kib": 8} if cheap_hash else {}
    return Settings().with_overrides(
        database={"url": url, "batch_size": int(os.environ.get("BENCH_BATCH", "500"))},
        paths={"state": tmp / "state", "outbox": tmp / "outbox"},
        passwords=passwords,
        imports={"mass_delete_min": 10**9},
    )


def run_mixed(engine_name: str, lines: int, tmp: Path, *, cheap_hash: bool) -> tuple[float, int]:
    """Seconds from file to report, and the number of lines that hashed a password."""
    path = tmp / f"mixed-{lines}.csv"
    n_c = mixed_file(path, lines)
    stored = Hasher(Settings().passwords, workers=1).hash(Secret(PASSWORD))
    with database(engine_name, tmp) as url:
        seed(url, lines, stored)
        settings = settings_for(url, tmp, cheap_hash=cheap_hash)
        engine = db.make_engine(url)
        started = time.perf_counter()
        result = import_file(
            path,
            "bench",
            settings=settings,
            session_factory=db.session_factory(engine),
            clock=FixedClock(NOW),
            report_path=tmp / "mixed.rapport.csv",
        )
        took = time.perf_counter() - started
        engine.dispose()
    assert result.summary.total == lines and result.summary.erreur == 0, result
    return took, n_c


def time_per_hash(samples: int = 20) -> float:
    hasher = Hasher(Settings().passwords, workers=1)
    started = time.perf_counter()
    for _ in range(samples):
        hasher.hash(Secret(PASSWORD))
    return (time.perf_counter() - started) / samples


def reimport(size: int, tmp: Path, *, profile: bool = False) -> tuple[float, float, float]:
    """(export seconds, re-import lines/s wall-clock, lines/s CPU) on SQLite."""
    with database("sqlite", tmp) as url:
        seed(url, size, "{ARGON2}$argon2id$seeded")
        settings = settings_for(url, tmp, cheap_hash=True)
        engine = db.make_engine(url)
        sf = db.session_factory(engine)
        path = tmp / "export.csv"
        started = time.perf_counter()
        export_establishment(sf, ET, path, FixedClock(NOW))
        exported = time.perf_counter() - started
        profiler = cProfile.Profile() if profile else None
        started, cpu = time.perf_counter(), time.process_time()
        if profiler:
            profiler.enable()
        result = import_file(
            path,
            "bench",
            settings=settings,
            session_factory=sf,
            clock=FixedClock(NOW),
            report_path=tmp / "export.rapport.csv",
        )
        if profiler:
            profiler.disable()
        took, cpu = time.perf_counter() - started, time.process_time() - cpu
        if profiler:
            pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
        engine.dispose()
    assert result.summary.ok == size, result
    return exported, size / took, size / cpu


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench_import")
    parser.add_argument("--lines", type=int, default=20_000)
    parser.add_argument("--export-size", type=int, default=100_000)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--reimport-only", action="store_true", help="(b) only")
    parser.add_argument("--profile", action="store_true", help="cProfile (b), top functions")
    args = parser.parse_args(argv)
    cores = default_workers()
    engines = ["sqlite"] if args.no_postgres else ["sqlite", "postgresql"]
    if args.reimport_only:
        engines = []
    per_hash = time_per_hash() if engines else 0.0
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp_name:
        tmp = Path(tmp_name)
        for engine_name in engines:
            total, n_hash = run_mixed(engine_name, args.lines, tmp, cheap_hash=False)
            rest, _ = run_mixed(engine_name, args.lines, tmp, cheap_hash=True)
            floor = n_hash * per_hash / cores
            rows.append((engine_name, total, max(0.0, total - rest), rest, floor))
        exported, rate, cpu_rate = reimport(args.export_size, tmp, profile=args.profile)
    if rows:
        _print_mixed(args.lines, cores, per_hash, rows)
    print(f"(b) unchanged re-import of a {args.export_size}-profile export (SQLite)")
    print(f"{'export':>10}{'lines/s (wall)':>16}{'lines/s (CPU)':>16}{'target':>10}")
    print(f"{exported:>9.2f}s{rate:>16,.0f}{cpu_rate:>16,.0f}{50_000:>10,}")


def _print_mixed(
    lines: int, cores: int, per_hash: float, rows: list[tuple[str, float, float, float, float]]
) -> None:
    print(f"(a) mixed file, {lines} lines ({cores} cores, {per_hash * 1000:.1f} ms/hash)")
    print(f"{'engine':<12}{'file→report':>14}{'hashing':>10}{'rest':>10}{'hash floor':>12}")
    for name, total, hashing, rest, floor in rows:
        print(f"{name:<12}{total:>13.2f}s{hashing:>9.2f}s{rest:>9.2f}s{floor:>11.2f}s")
    print()
