"""Benchmarks: `python -m benchmarks [NAME…]` runs every `bench_*.py` module (or those named).

Each module exposes `main(argv: list[str]) -> None` and prints its own table. Speed and
memory are measured here, never asserted in the test suite (a shared CI machine makes timed
assertions flaky and teaches people to ignore red builds).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "daemon"
OUT = Path(__file__).resolve().parent / "out"


def use_source_tree() -> None:
    """Import `profilesync` from this checkout, as the tests do (the package is not installed)."""
    if str(SOURCE) not in sys.path:
        sys.path.insert(0, str(SOURCE))
