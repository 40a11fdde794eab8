"""Typed field access for output records read back (dead letters, the changelog).

Each reader raises ValueError for a value of the wrong JSON type, so a
malformed record is one error type whatever field broke.
"""

from __future__ import annotations


def as_object(value: object) -> dict[str, object]:
    """``value`` if it is a JSON object."""
    if not isinstance(value, dict):
        raise ValueError(f"expected a JSON object, got {type(value).__name__}")
    return value


def as_str(value: object) -> str:
    """``value`` if it is a string."""
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {value!r}")
    return value


def as_int(value: object) -> int:
    """``value`` if it is an integer (a bool is not one)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected an int, got {value!r}")
    return value


def as_bool(value: object, key: str) -> bool:
    """``value`` if it is a bool; ``key`` names the field in the error."""
    if not isinstance(value, bool):
        raise ValueError(f"expected a bool for {key!r}, got {value!r}")
    return value
