"""`python -m benchmarks [NAME…] [-- ARGS…]`: run the named benchmarks (default: all).

NAME is a module name with or without its `bench_` prefix (`check` = `bench_check`);
ARGS after `--` go to every selected benchmark's `main`. `--list` lists them.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
from collections.abc import Callable
from typing import cast

import benchmarks


def discover() -> list[str]:
    """The benchmark modules: `benchmarks/bench_*.py`, sorted."""
    return sorted(
        info.name
        for info in pkgutil.iter_modules(benchmarks.__path__)
        if info.name.startswith("bench_")
    )


def main(argv: list[str]) -> int:
    names, extra = (
        (argv[: argv.index("--")], argv[argv.index("--") + 1 :])
        if "--" in argv
        else (
            argv,
            [],
        )
    )
    available = discover()
    if "--list" in names or "-h" in names or "--help" in names:
        print(__doc__)
        print("available:", " ".join(n.removeprefix("bench_") for n in available))
        return 0
    selected = []
    for name in names or [n.removeprefix("bench_") for n in available]:
        module = name if name.startswith("bench_") else f"bench_{name}"
        if module not in available:
            print(f"unknown benchmark {name!r}; available: {', '.join(available)}", file=sys.stderr)
            return 2
        selected.append(module)
    benchmarks.use_source_tree()
    for module in selected:
        print(f"== {module}")
        started = time.perf_counter()
        run = cast(
            Callable[[list[str]], None], importlib.import_module(f"benchmarks.{module}").main
        )
        run(list(extra))
        print(f"({module}: {time.perf_counter() - started:.1f} s)\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
