"""CLI commands of this area; see the module of the same concept in the library."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this area's commands to the main app."""
