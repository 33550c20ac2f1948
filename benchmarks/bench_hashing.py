"""Password hashing throughput: in the caller, `Hasher` threads, and a process pool.

Why `passwords.Hasher` uses threads: libargon2 runs with the GIL released, so threads
scale with the cores like processes do, without the pool start-up and without pickling
secrets into other processes. Run: `python3 benchmarks/bench_hashing.py [N]`.
"""

from __future__ import annotations

import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "daemon"))

from profilesync.config import PasswordSettings
from profilesync.passwords import Hasher, default_workers, hash_password
from profilesync.secret import Secret

SETTINGS = PasswordSettings()  # the production cost (OWASP argon2id)


def _one(secret: Secret) -> str:
    return hash_password(secret, SETTINGS)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 64
    secrets = [Secret(f"Bench-Password-{i:06d}") for i in range(n)]
    cores = default_workers()
    rows: list[tuple[str, int, float]] = []

    start = time.perf_counter()
    for s in secrets:
        _one(s)
    rows.append(("sequential", 1, time.perf_counter() - start))

    start = time.perf_counter()
    with Hasher(SETTINGS, workers=cores) as hasher:
        hasher.hash_many(secrets)
    rows.append(("Hasher (threads)", cores, time.perf_counter() - start))

    for method in ("spawn", "forkserver"):
        start = time.perf_counter()
        ctx = multiprocessing.get_context(method)
        with ProcessPoolExecutor(cores, mp_context=ctx) as pool:
            list(pool.map(_one, secrets))
        rows.append((f"processes ({method})", cores, time.perf_counter() - start))

    print(f"{n} argon2id hashes, m={SETTINGS.argon2_memory_kib} KiB, t={SETTINGS.argon2_time_cost}")
    print(f"{'mode':<22} {'workers':>7} {'seconds':>8} {'hashes/s':>9}")
    for mode, workers, seconds in rows:
        print(f"{mode:<22} {workers:>7} {seconds:>8.2f} {n / seconds:>9.1f}")


if __name__ == "__main__":
    main()
