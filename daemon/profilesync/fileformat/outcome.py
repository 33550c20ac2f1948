"""Outcomes are data: the report, the CLI summary and the database read the same objects."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Code(StrEnum):
    """A line's verdict, ordered by severity (see `worst`)."""

    OK = "OK"
    ALERTE = "ALERTE"
    ERREUR = "ERREUR"


_SEVERITY = {Code.OK: 0, Code.ALERTE: 1, Code.ERREUR: 2}


def worst(codes: Iterable[Code]) -> Code:
    """The most severe code, OK for none: a line is as bad as its worst problem."""
    return max(codes, key=_SEVERITY.__getitem__, default=Code.OK)


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing said about a line: ALERTE (applied, something ignored), ERREUR (not applied),
    or OK (a note: what was done, or a certain repair — SPEC 2b)."""

    code: Code
    message: str

    @classmethod
    def note(cls, message: str) -> Problem:
        return cls(Code.OK, message)

    @classmethod
    def alerte(cls, message: str) -> Problem:
        return cls(Code.ALERTE, message)

    @classmethod
    def erreur(cls, message: str) -> Problem:
        return cls(Code.ERREUR, message)


@dataclass(frozen=True, slots=True)
class Outcome:
    """The verdict on one physical line, as reported: `cells` already have the password masked."""

    line: int
    code: Code
    messages: tuple[str, ...]
    cells: tuple[str, ...]

    @classmethod
    def of(cls, line: int, problems: Iterable[Problem], cells: tuple[str, ...]) -> Outcome:
        problems = tuple(problems)
        return cls(
            line=line,
            code=worst(p.code for p in problems),
            messages=tuple(p.message for p in problems),
            cells=cells,
        )


@dataclass(frozen=True, slots=True)
class Summary:
    """Counts of a run, for the one-line summary and the exit code (SPEC §10)."""

    ok: int = 0
    alerte: int = 0
    erreur: int = 0

    @property
    def total(self) -> int:
        return self.ok + self.alerte + self.erreur

    def add(self, code: Code) -> Summary:
        return Summary(
            ok=self.ok + (code is Code.OK),
            alerte=self.alerte + (code is Code.ALERTE),
            erreur=self.erreur + (code is Code.ERREUR),
        )

    def line(self) -> str:
        """The French summary line printed by `check` and `import`."""
        lines = "ligne" if self.total < 2 else "lignes"  # French: « 0 ligne », « 1 ligne »
        return f"{self.total} {lines} : {self.ok} OK, {self.alerte} ALERTE, {self.erreur} ERREUR"

    @property
    def exit_code(self) -> int:
        """0 when no line is ERREUR, 1 otherwise (2, file rejected, is the caller's)."""
        return 1 if self.erreur else 0
