"""The package's layers, read from the source: who may import whom (docs/architecture.md).

Each layer may use the ones below it and nothing above: the root modules (config, clock,
secret, faults, logsetup…) < fileformat < store < directory < service < cli. So a file can be
judged without a database (`check`), the database served without a directory, and the
command line stays a thin layer that nothing depends on. The modules are parsed, not
imported: an import inside a function or under TYPE_CHECKING counts like any other.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "daemon" / "profilesync"
ROOT = "root"
# A layer may import any layer listed before it, and itself.
ORDER = (ROOT, "fileformat", "store", "directory", "service", "cli")
# `python -m profilesync` is the command line's entry point: it imports cli and nothing else.
ENTRY_POINTS = {"profilesync.__main__"}


def layer_of(module: str) -> str:
    """The layer of a dotted name under `profilesync`: its subpackage, or ROOT."""
    parts = module.split(".")
    if len(parts) >= 3 or (len(parts) == 2 and parts[1] in ORDER):
        return parts[1]
    return ROOT


def module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(tree: ast.Module, module: str, is_package: bool) -> Iterator[tuple[ast.stmt, str]]:
    """Each import statement with each `profilesync…` name it imports."""
    here = module.split(".") if is_package else module.split(".")[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = here[: len(here) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            if base == "profilesync":
                # `from profilesync import store` names a subpackage or root module.
                for alias in node.names:
                    yield node, f"profilesync.{alias.name}"
            else:
                yield node, base


def offending_imports(package: Path = PACKAGE) -> list[str]:
    """One line per import that goes up the layers: file, line, the statement, the rule."""
    found = []
    for path in sorted(package.rglob("*.py")):
        where = path.relative_to(package.parent)
        module = module_name(path, package)
        if module in ENTRY_POINTS:
            continue
        layer = layer_of(module)
        if layer not in ORDER:
            found.append(f"{where}: unknown layer {layer!r}: add it to ORDER")
            continue
        allowed = ORDER[: ORDER.index(layer) + 1]
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node, name in imported(tree, module, path.name == "__init__.py"):
            if name.split(".")[0] != "profilesync" or layer_of(name) in allowed:
                continue
            offence = (
                f"{where}:{node.lineno}: {ast.unparse(node)} "
                f"({layer} may import only {', '.join(allowed)})"
            )
            if offence not in found:  # `from profilesync import store, service`: once
                found.append(offence)
    return found


def test_no_module_imports_a_layer_above_its_own() -> None:
    offending = offending_imports()
    assert not offending, (
        "imports going up the layers (see docs/architecture.md, Layout):\n  "
        + "\n  ".join(offending)
    )


def test_every_layer_is_a_folder_of_the_package() -> None:
    """A renamed subpackage must not leave the test checking nothing."""
    assert {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()} == set(ORDER[1:])


@pytest.mark.parametrize(
    ("module", "source", "message"),
    [
        (
            "fileformat/rules.py",
            "from profilesync.store.actions import apply\n",
            "profilesync/fileformat/rules.py:1: from profilesync.store.actions import apply "
            "(fileformat may import only root, fileformat)",
        ),
        (
            "store/runner.py",
            "def f():\n    from profilesync.service import daemon\n",
            "profilesync/store/runner.py:2: from profilesync.service import daemon "
            "(store may import only root, fileformat, store)",
        ),
        (
            "directory/push.py",
            "from ..cli import app\n",
            "profilesync/directory/push.py:1: from ..cli import app "
            "(directory may import only root, fileformat, store, directory)",
        ),
        (
            "service/status.py",
            "import profilesync.cli.common\n",
            "profilesync/service/status.py:1: import profilesync.cli.common "
            "(service may import only root, fileformat, store, directory, service)",
        ),
        (
            "config.py",
            "from profilesync import fileformat\n",
            "profilesync/config.py:1: from profilesync import fileformat "
            "(root may import only root)",
        ),
        (
            "errors.py",
            "from .store.db import DatabaseError\n",
            "profilesync/errors.py:1: from .store.db import DatabaseError "
            "(root may import only root)",
        ),
    ],
)
def test_an_import_going_up_is_named(
    tmp_path: Path, module: str, source: str, message: str
) -> None:
    package = tmp_path / "profilesync"
    for layer in ORDER[1:]:
        (package / layer).mkdir(parents=True)
        (package / layer / "__init__.py").write_text("", encoding="utf-8")
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "__main__.py").write_text("from profilesync.cli import main\n", encoding="utf-8")
    (package / module).write_text(source, encoding="utf-8")
    assert offending_imports(package) == [message]


def test_layers_below_may_be_imported(tmp_path: Path) -> None:
    package = tmp_path / "profilesync"
    (package / "cli").mkdir(parents=True)
    (package / "store").mkdir()
    (package / "store" / "__init__.py").write_text("from . import db\n", encoding="utf-8")
    (package / "cli" / "imports.py").write_text(
        "from profilesync import config\nfrom profilesync.store import db\n"
        "from ..service import daemon\n",
        encoding="utf-8",
    )
    assert offending_imports(package) == []
