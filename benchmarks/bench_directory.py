"""Directory push: N accounts with active profiles, queue drained by `sync_once`.

Three figures for the same N entries, each slapd fresh and equally durable (fsync on,
as in production, unless `--nosync`):
- the **hashing floor**: N × (one OWASP argon2id hash, measured) ÷ cores — what the
  importer spends before anything reaches the directory;
- the **ldapadd floor**: `ldapadd -c` of an LDIF holding the same final tree (people,
  establishments, groups with all their members), the C client against the same server;
- **sync_once**: a database holding the N accounts and their queued changes, drained
  by the sync worker until the queue is empty (reads, adds, batched member modifies).

Target: sync_once ≤ 1.15 × max(hashing floor, ldapadd floor).
Run: `python3 -m benchmarks directory [-- --n 20000 --window 256 --nosync]`.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "daemon"))

import sqlalchemy as sa

from profilesync.clock import FixedClock
from profilesync.config import LdapSettings, PasswordSettings
from profilesync.directory import slapd
from profilesync.directory.sync import backlog, sync_once
from profilesync.directory.tree import Tree, skeleton
from profilesync.fileformat.roles import Role
from profilesync.secret import Secret
from profilesync.store.db import make_engine, session_factory, upgrade
from profilesync.store.model import (
    Account,
    DirectoryChange,
    Establishment,
    Profile,
    Team,
)
from profilesync.store.passwords import default_workers, hash_password

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
ETS = [f"75000{i:04d}" for i in range(10)]
TEAMS = ["Urgences", "Bloc", "Cardiologie", "Pédiatrie", "Nuit"]
ROLES = list(Role)


def _hash_floor(n: int, sample: int) -> tuple[float, list[str]]:
    """Seconds for n hashes on every core, from a measured sample; and the sample hashes."""
    settings = PasswordSettings()
    start = time.perf_counter()
    hashes = [hash_password(Secret(f"Bench-Password-{i:06d}"), settings) for i in range(sample)]
    per_hash = (time.perf_counter() - start) / sample
    return n * per_hash / default_workers(), hashes


def _people(n: int) -> list[dict[str, object]]:
    out = []
    for i in range(n):
        et = ETS[i % len(ETS)]
        team = TEAMS[(i // len(ETS)) % len(TEAMS)]
        role = ROLES[i % len(ROLES)]
        out.append(
            {
                "key": f"user{i:06d}",
                "nom": f"Nom{i}",
                "prenom": "Élodie",
                "et": et,
                "team": team,
                "role": role.value,
                "mail": f"user{i}@hopital.mssante.fr",
            }
        )
    return out


def _ldif(tree: Tree, people: list[dict[str, object]], hashes: list[str]) -> str:
    chunks: list[str] = []
    members: dict[str, list[str]] = {}
    for i, p in enumerate(people):
        dn = tree.person(str(p["key"]))
        chunks.append(
            f"dn: {dn}\nobjectClass: inetOrgPerson\nuid: {p['key']}\n"
            f"cn: {p['prenom']} {p['nom']}\nsn: {p['nom']}\ngivenName: {p['prenom']}\n"
            f"mail: {p['mail']}\nuserPassword: {hashes[i % len(hashes)]}\n\n"
        )
        for group in (
            tree.team(str(p["et"]), str(p["team"])),
            tree.role(str(p["et"]), str(p["role"])),
        ):
            members.setdefault(group, []).append(dn)
    for et in ETS:
        for level in skeleton(tree, et, TEAMS).levels:
            for entry in level:
                lines = [f"dn: {entry.dn}", *(f"objectClass: {c}" for c in entry.classes)]
                for attr, vals in entry.attributes.items():
                    extra = members.get(entry.dn, []) if attr == "member" else []
                    lines.extend(f"{attr}: {v}" for v in [*vals, *extra])
                chunks.append("\n".join(lines) + "\n\n")
    # Parents were listed after the people above only for groups: put skeletons first.
    return "".join(chunks[len(people) :] + chunks[: len(people)])


def _ldapadd(inst: slapd.Instance, ldif: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        [
            "ldapadd",
            "-x",
            "-c",
            "-H",
            inst.url,
            "-D",
            inst.root_dn,
            "-y",
            str(inst.password_file),
            "-f",
            str(ldif),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def _database(url: str, people: list[dict[str, object]], hashes: list[str]) -> None:
    upgrade(url)
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(Establishment),
            [{"et": et, "ej": "010000016", "name": et, "created_at": T0} for et in ETS],
        )
        est = dict(conn.execute(sa.select(Establishment.et, Establishment.id)).all())
        conn.execute(
            sa.insert(Team),
            [
                {"establishment_id": est[et], "name": t, "created_at": T0}
                for et in ETS
                for t in TEAMS
            ],
        )
        team = {
            (et, name): tid
            for tid, et, name in conn.execute(
                sa.select(Team.id, Establishment.et, Team.name).join(Establishment)
            )
        }
        conn.execute(
            sa.insert(Account),
            [
                {
                    "key": p["key"],
                    "doctor": False,
                    "rpps": None,
                    "nom": p["nom"],
                    "prenom": p["prenom"],
                    "email": p["mail"],
                    "password_hash": hashes[i % len(hashes)],
                    "password_set_at": T0,
                    "locked": False,
                    "created_at": T0,
                    "updated_at": T0,
                }
                for i, p in enumerate(people)
            ],
        )
        ids = dict(conn.execute(sa.select(Account.key, Account.id)).all())
        conn.execute(
            sa.insert(Profile),
            [
                {
                    "account_id": ids[p["key"]],
                    "establishment_id": est[p["et"]],
                    "role": p["role"],
                    "team_id": team[(p["et"], p["team"])],
                    "debut": date(2026, 1, 1),
                    "fin": None,
                    "state": "active",
                    "created_at": T0,
                    "updated_at": T0,
                }
                for p in people
            ],
        )
        conn.execute(
            sa.insert(DirectoryChange),
            [
                {
                    "kind": "establishment",
                    "key": et,
                    "created_at": T0,
                    "next_attempt_at": T0,
                    "attempts": 0,
                    "parked": False,
                }
                for et in ETS
            ]
            + [
                {
                    "kind": "account",
                    "key": p["key"],
                    "created_at": T0,
                    "next_attempt_at": T0,
                    "attempts": 0,
                    "parked": False,
                }
                for p in people
            ],
        )
    engine.dispose()


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench_directory")
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--window", type=int, default=256)
    parser.add_argument("--hash-sample", type=int, default=16)
    parser.add_argument("--nosync", action="store_true", help="slapd dbnosync (not durable)")
    parser.add_argument("--db", default="", help="database URL (default: a temporary SQLite)")
    args = parser.parse_args(argv)
    if slapd.find_slapd() is None:
        print("slapd is not installed: nothing measured")
        return
    work = Path(tempfile.mkdtemp(prefix="bench-directory-"))
    try:
        _run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run(args: argparse.Namespace, work: Path) -> None:
    n = args.n
    people = _people(n)
    hash_floor, hashes = _hash_floor(n, args.hash_sample)

    floor_inst = slapd.start(work / "floor", nosync=args.nosync)
    try:
        tree = Tree.from_settings(floor_inst.settings())
        ldif = work / "people.ldif"
        ldif.write_text(_ldif(tree, people, hashes), encoding="utf-8")
        ldapadd = _ldapadd(floor_inst, ldif)
    finally:
        slapd.stop(floor_inst)

    url = args.db or f"sqlite:///{work / 'bench.db'}"
    _database(url, people, hashes)
    inst = slapd.start(work / "sync", nosync=args.nosync)
    try:
        settings: LdapSettings = inst.settings(LdapSettings(pipeline_window=args.window))
        engine = make_engine(url)
        factory = session_factory(engine)
        clock = FixedClock(T0)
        start = time.perf_counter()
        report = sync_once(factory, settings, clock=clock)
        pushed = time.perf_counter() - start
        with factory() as session:
            left = backlog(session, clock.now())
        engine.dispose()
    finally:
        slapd.stop(inst)

    floor = max(hash_floor, ldapadd)
    durability = "dbnosync" if args.nosync else "fsync"
    print(f"{n} accounts (10 ET, 5 teams each, 9 roles), slapd {durability}, window {args.window}")
    print(f"{'measure':<34} {'seconds':>9} {'entries/s':>10}")
    print(f"{'hashing floor (N×t_hash÷cores)':<34} {hash_floor:>9.1f} {n / hash_floor:>10.0f}")
    print(f"{'ldapadd floor (same tree)':<34} {ldapadd:>9.1f} {n / ldapadd:>10.0f}")
    print(f"{'sync_once until converged':<34} {pushed:>9.1f} {n / pushed:>10.0f}")
    print(f"{'ratio to max(floors)':<34} {pushed / floor:>9.2f}   (target ≤ 1.15)")
    print(f"{'ratio to ldapadd floor':<34} {pushed / ldapadd:>9.2f}")
    print(
        f"pushed {report.pushed} changes, {report.entries_added} entries added, "
        f"{report.member_changes} member values; queue left: {tuple(left)}"
        + (f"; error: {report.error}" if report.error else "")
    )


if __name__ == "__main__":
    main(sys.argv[1:])
