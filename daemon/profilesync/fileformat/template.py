"""The empty import file a référent starts from: the header row alone (SPEC §8)."""

from __future__ import annotations

from profilesync.fileformat.columns import COLUMNS

BOM = "\ufeff"


def template_bytes() -> bytes:
    """UTF-8 with BOM and CRLF, so that Excel opens it with the accents right."""
    return (BOM + ";".join(COLUMNS) + "\r\n").encode("utf-8")
