"""One error type: every exception of the package is a `ProfilesyncError`, which the CLI's
root turns into `error: <message>` and the error's exit code, once, for every command."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

import profilesync
from profilesync.cli import app
from profilesync.errors import EXIT_REJECTED, ProfilesyncError
from profilesync.store import admin, db

# Scripts that run when imported (the console entry point, Alembic's environment): read,
# not imported, and they must not define a class of their own.
SCRIPTS = {"profilesync.__main__", "profilesync.store.migrations.env"}


def _modules() -> Iterator[ModuleType]:
    for info in pkgutil.walk_packages(profilesync.__path__, "profilesync."):
        if info.name not in SCRIPTS:
            yield importlib.import_module(info.name)


def _exception_classes() -> Iterator[type[BaseException]]:
    for module in _modules():
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == module.__name__ and issubclass(cls, BaseException):
                yield cls


def test_every_exception_of_the_package_is_a_profilesync_error() -> None:
    found = set(_exception_classes())
    assert len(found) >= 25, sorted(c.__qualname__ for c in found)  # the walk saw them
    strays = [c for c in found if not issubclass(c, ProfilesyncError)]
    assert [f"{c.__module__}.{c.__qualname__}" for c in strays] == []


def test_the_scripts_left_out_of_the_walk_define_no_class() -> None:
    root = Path(profilesync.__file__).parent
    for name in SCRIPTS:
        path = root.joinpath(*name.split(".")[1:]).with_suffix(".py")
        tree = ast.parse(path.read_text(encoding="utf-8"))
        assert not [n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)], path


def test_one_unknown_establishment_for_admin_and_exports() -> None:
    from profilesync.store import exports

    assert exports.UnknownEstablishment is admin.UnknownEstablishment
    assert isinstance(admin.UnknownEstablishment("690781810"), admin.AdminError)


def test_what_each_error_keeps_besides_its_base() -> None:
    from profilesync.store.passwords import HasherClosed

    assert issubclass(HasherClosed, RuntimeError)
    assert issubclass(db.DatabaseUnavailable, db.DatabaseError)


# -- the boundary ----------------------------------------------------------------------------


class _Unusual(ProfilesyncError):
    """An error with an exit code of its own, to see that the boundary uses the class's."""

    exit_code = 7


@pytest.mark.parametrize(
    ("error", "code"), [(ProfilesyncError("it broke"), EXIT_REJECTED), (_Unusual("it broke"), 7)]
)
def test_an_error_inside_a_command_is_one_line_and_its_exit_code(
    error: ProfilesyncError, code: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> bytes:
        raise error

    monkeypatch.setattr("profilesync.fileformat.template.template_bytes", broken)
    result = CliRunner().invoke(app, ["template"])
    assert result.exit_code == code
    assert result.stderr == "error: it broke\n"
    assert result.stdout == ""
    assert isinstance(result.exception, SystemExit)  # a clean exit, not the error itself


def test_a_library_error_in_a_sub_command_through_the_console_script(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "profilesync", "slapd", "stop", "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert proc.returncode == EXIT_REJECTED
    assert proc.stderr == f"error: no slapd instance configured in {tmp_path}\n"
    assert "Traceback" not in proc.stderr


def test_an_error_that_is_not_ours_keeps_its_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> bytes:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr("profilesync.fileformat.template.template_bytes", broken)
    result = CliRunner().invoke(app, ["template"])
    assert isinstance(result.exception, ZeroDivisionError)
    assert "error:" not in result.stderr


# -- driver errors become ours in the library, not in the CLI --------------------------------


@pytest.fixture
def factory(tmp_path: Path) -> Iterator[sa.orm.sessionmaker[sa.orm.Session]]:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    yield db.session_factory(engine)
    engine.dispose()


def test_a_database_failing_inside_a_transaction_is_database_unavailable(
    factory: sa.orm.sessionmaker[sa.orm.Session],
) -> None:
    expected = r"^database error on sqlite:///.*x\.db: no such table"
    with pytest.raises(db.DatabaseUnavailable, match=expected), db.transaction(factory) as session:
        session.execute(sa.text("SELECT * FROM no_such_table"))


def test_two_operators_at_once_the_loser_is_told_to_run_again(
    factory: sa.orm.sessionmaker[sa.orm.Session],
) -> None:
    with factory.begin() as session:
        session.execute(sa.text("CREATE TABLE t (k INTEGER PRIMARY KEY)"))
        session.execute(sa.text("INSERT INTO t VALUES (1)"))
    refused = pytest.raises(admin.ConcurrentChange, match="run it again")
    with refused, admin.transaction(factory) as session:
        session.execute(sa.text("INSERT INTO t VALUES (2)"))
        session.execute(sa.text("INSERT INTO t VALUES (1)"))
    with factory() as session:  # all of the command or nothing
        assert session.scalars(sa.text("SELECT k FROM t")).all() == [1]
