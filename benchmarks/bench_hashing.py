"""Password hashing throughput: in the caller, `passwords.Hasher` (threads), process pools.

Why `Hasher` uses threads: libargon2 runs with the GIL released (CFFI), so threads scale
with the cores like processes do, without the pool start-up and without pickling secrets
into other processes. Floor: one core hashing in a loop; target: × the number of cores.
`python3 -m benchmarks hashing -- [N]` (default 64 hashes at the production cost).
"""

from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor

from benchmarks import use_source_tree

use_source_tree()

from profilesync.config import PasswordSettings  # noqa: E402
from profilesync.secret import Secret  # noqa: E402
from profilesync.store.passwords import Hasher, default_workers, hash_password  # noqa: E402

SETTINGS = PasswordSettings()  # the production cost (OWASP argon2id)


def _one(secret: Secret) -> str:
    return hash_password(secret, SETTINGS)


def main(argv: list[str]) -> None:
    n = int(argv[0]) if argv else 64
    secrets = [Secret(f"Bench-Password-{i:06d}") for i in range(n)]
    cores = default_workers()
    rows: list[tuple[str, int, float]] = []

    start = time.perf_counter()
    for s in secrets:
        _one(s)
    rows.append(("sequential (floor)", 1, time.perf_counter() - start))

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
    print(f"| {'mode':<22} | workers | seconds | hashes/s | speed-up |")
    print(f"|{'-' * 24}|---------|---------|----------|----------|")
    floor = rows[0][2]
    for mode, workers, seconds in rows:
        print(
            f"| {mode:<22} | {workers:>7} | {seconds:>7.2f} | {n / seconds:>8.1f} "
            f"| {floor / seconds:>7.2f}x |"
        )


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
