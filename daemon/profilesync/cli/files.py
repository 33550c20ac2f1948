"""File commands that need no state: `template` and `check`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from profilesync import template as template_mod
from profilesync.check import BadTimezone, InputUnreadable, check_file
from profilesync.cli.common import EXIT_REJECTED, ConfigOption, fail, load_settings
from profilesync.clock import SystemClock
from profilesync.report import default_report_path


def register(app: typer.Typer) -> None:
    """Add `template` and `check`."""
    app.command("template")(template)
    app.command("check")(check)


def template() -> None:
    """Affiche le modèle de fichier d'import (la ligne d'en-tête seule, UTF-8 avec BOM)."""
    sys.stdout.buffer.write(template_mod.template_bytes())
    sys.stdout.buffer.flush()


def check(
    file: Annotated[
        Path,
        typer.Argument(metavar="FICHIER", help="Le fichier CSV à vérifier.", show_default=False),
    ],
    report: Annotated[
        Path | None,
        typer.Option(
            "--report",
            "-r",
            help="Où écrire le rapport (défaut : <nom du fichier>.rapport.csv à côté).",
            dir_okay=False,
        ),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Vérifie un fichier sans rien modifier (règles sans base de données) et écrit son rapport.

    Code de sortie : 0 aucune ERREUR, 1 au moins une ligne en ERREUR, 2 fichier refusé.
    """
    settings = load_settings(config)
    report_path = report if report is not None else default_report_path(file)
    if not file.is_file():
        fail(f"fichier introuvable ou illisible : {file}")
    if report_path.exists() and report_path.resolve() == file.resolve():
        fail(f"le rapport écraserait le fichier vérifié : {report_path}")
    try:
        result = check_file(file, settings=settings, clock=SystemClock(), report_path=report_path)
    except InputUnreadable as exc:
        fail(f"impossible de lire le fichier {exc}")
    except BadTimezone as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"impossible d'écrire le rapport {report_path} : {exc.strerror or exc}")
    if result.rejected_reason is not None:
        typer.echo(f"Rapport : {result.report_path}")
        fail(f"fichier refusé : {result.rejected_reason}", EXIT_REJECTED)
    typer.echo(result.summary.line())
    typer.echo(f"Rapport : {result.report_path}")
    raise typer.Exit(result.exit_code)
