"""File commands that need no state: `template` and `check`."""

from __future__ import annotations

import sys

import typer

from profilesync import template as template_mod


def register(app: typer.Typer) -> None:
    """Add `template` and `check`."""
    app.command("template")(template)


def template() -> None:
    """Affiche le modèle de fichier d'import (la ligne d'en-tête seule, UTF-8 avec BOM)."""
    sys.stdout.buffer.write(template_mod.template_bytes())
    sys.stdout.buffer.flush()
