"""Expectations written from SPEC.md itself, never from the product's own helpers.

A test that asks the product how to compute its expected value (`report.neutralised` for the
CSV-injection guard) keeps passing when that helper breaks: these are the oracles instead.
"""

from __future__ import annotations

# SPEC §7: « A cell that begins with `=`, `+`, `-`, `@`, tab or carriage return is prefixed
# with `'` (CSV injection). »
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def guarded(cell: str) -> str:
    """The report cell SPEC §7 asks for: `'` before a cell that starts like a formula."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell
