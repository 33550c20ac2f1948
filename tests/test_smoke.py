"""The package imports, the CLI answers, and the template is the header of SPEC §2."""

from __future__ import annotations

import subprocess
import sys

import sqlalchemy as sa

from profilesync.fileformat.columns import COLUMNS
from profilesync.store.model import Account


def test_template_is_the_header_with_bom_and_crlf() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "profilesync", "template"], capture_output=True, check=True
    ).stdout
    assert out == ("\ufeff" + ";".join(COLUMNS) + "\r\n").encode("utf-8")


def test_db_fixture_gives_an_empty_schema(db_url: str) -> None:
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(Account)).scalar_one() == 0
    engine.dispose()
