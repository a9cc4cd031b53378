"""Typed accessors for untrusted JSON: a value of the wrong type becomes an empty one, never a crash.

Evidence files come from many producers and versions; an importer reads every field through these
so that an unexpected shape degrades to "absent" instead of a ``TypeError``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["arr", "num", "obj", "text"]


def obj(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object, else ``{}``."""
    return value if isinstance(value, dict) else {}


def arr(value: Any) -> list[Any]:
    """``value`` if it is a JSON array, else ``[]``."""
    return value if isinstance(value, list) else []


def text(value: Any) -> str | None:
    """``value`` if it is a non-empty string, else None."""
    return value if isinstance(value, str) and value else None


def num(value: Any) -> float | None:
    """``value`` as a float if it is a finite JSON number (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    f = float(value)
    return f if f == f and f not in (float("inf"), float("-inf")) else None
