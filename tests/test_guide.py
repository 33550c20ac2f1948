"""The référents' guide explains every message of the catalogue, so it cannot drift from the code.

Each constant of `messages.py` must appear verbatim in `docs/guide-referent.md`. Each
function is rendered with marker arguments; the text between the markers (the fixed part of
the message) must appear verbatim in the guide, where the guide writes `<valeur>` (or any
placeholder) for the variable parts.
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from profilesync.fileformat import messages

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "guide-referent.md"

# A value per parameter type, and the pattern it shows as once rendered.
_SAMPLES: dict[Any, tuple[Callable[[int], Any], Callable[[int], str]]] = {
    str: (lambda i: f"\x00{i}\x00", lambda i: re.escape(f"\x00{i}\x00")),
    int: (lambda i: 987650 + i, lambda i: rf"987[\s\u202f\u00a0.,]?65{i}"),
    float: (lambda i: 987650.0 + i, lambda i: rf"987[\s\u202f\u00a0.,]?65{i}(?:[.,]0+)?"),
    date: (lambda i: date(2031, 7, 10 + i), lambda i: rf"(?:{10 + i}/07/2031|2031-07-{10 + i})"),
    Path: (lambda i: Path(f"/x/\x00{i}\x00"), lambda i: rf"\S*\x00{i}\x00"),
}


# Functions whose arguments are rendered in a way the generic samples cannot see through:
# each gets its own calls, and a pattern per call for the text its arguments became.
_MO = r"\d+(?:,\d)? Mo"
_CALLS: dict[str, list[tuple[dict[str, Any], list[str]]]] = {
    "file_too_big": [({"size": 60 * 2**20, "limit": 50 * 2**20}, [_MO])],
    "undecodable": [({"line": 987650}, ["987650"])],
    "not_text": [
        *(({"kind": kind}, [re.escape(text)]) for kind, text in messages._NOT_TEXT.items()),
        ({"kind": "unknown"}, []),
    ],
    "wrong_separator": [
        ({"separator": sep}, [re.escape(text)]) for sep, text in messages._SEPARATORS.items()
    ],
    # The character shows as its code and, for the common ones, a French name (listed in the
    # guide, see test_every_invisible_character_name_is_in_the_guide).
    **{
        name: [
            (
                {"column": "\x000\x00", "character": ch, "position": 987650},
                ["\x000\x00", re.escape(shown), "987650"],
            )
            for ch, shown in (
                ("\u202e", "U+202E (inversion du sens d'écriture)"),
                ("\U000e0041", "U+E0041"),
            )
        ]
        for name in ("text_invisible", "text_line_break")
    },
}


def catalogue() -> Iterator[tuple[str, object]]:
    for name, value in vars(messages).items():
        if name.startswith("_") or name == "annotations":
            continue
        constant = isinstance(value, str) and name.isupper()
        function = inspect.isfunction(value) and value.__module__ == messages.__name__
        if constant or function:
            yield name, value


def fixed_parts(fn: Callable[..., object]) -> list[str]:
    """The literal text of a message function, split where its arguments appear."""
    if fn.__name__ in _CALLS:
        return [p for args, patterns in _CALLS[fn.__name__] for p in _split(fn(**args), patterns)]
    hints = typing.get_type_hints(fn)
    args: dict[str, Any] = {}
    patterns: list[str] = []
    for i, (pname, param) in enumerate(inspect.signature(fn).parameters.items()):
        hint = hints.get(pname, str)
        if typing.get_origin(hint) is not None or hint not in _SAMPLES:
            if param.default is not inspect.Parameter.empty:
                continue
            pytest.fail(f"messages.{fn.__name__}: add a sample for parameter type {hint!r}")
        make, pattern = _SAMPLES[hint]
        args[pname] = make(i)
        patterns.append(pattern(i))
    return _split(fn(**args), patterns)


def _split(text: object, patterns: list[str]) -> list[str]:
    assert isinstance(text, str)
    parts = re.split("|".join(patterns), text) if patterns else [text]
    return [p.strip() for p in parts if sum(c.isalnum() for c in p) >= 3]


def test_the_catalogue_is_not_empty() -> None:
    assert dict(catalogue()), "messages.py has no message: is the catalogue filled?"


@pytest.mark.parametrize(("name", "message"), list(catalogue()))
def test_every_message_is_in_the_guide(name: str, message: object) -> None:
    guide = GUIDE.read_text(encoding="utf-8")
    parts = [message] if isinstance(message, str) else fixed_parts(message)  # type: ignore[arg-type]
    missing = [p for p in parts if p not in guide]
    assert not missing, f"docs/guide-referent.md does not explain messages.{name}: {missing}"


def test_every_invisible_character_name_is_in_the_guide() -> None:
    guide = GUIDE.read_text(encoding="utf-8")
    missing = [
        f"U+{code:04X} ({name})"
        for code, name in messages._INVISIBLE_NAMES.items()
        if f"U+{code:04X} ({name})" not in guide
    ]
    assert not missing, f"docs/guide-referent.md does not list {missing}"
