"""A password in transit: it cannot leak through repr, str, logs or tracebacks by accident."""

from __future__ import annotations


class Secret:
    """Holds a plain password between the parser and the hasher; prints as `***`."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The plain text, for the hasher and the password policy only."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> tuple[type[Secret], tuple[str]]:
        # Picklable so that the process pool that hashes passwords can receive it.
        return (Secret, (self._value,))
