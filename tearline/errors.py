"""tearline's error types, split by blame.

::

    TearlineError                 every error tearline raises on purpose
    ├── UsageError                your input is wrong: an option, a flag, a scenario file
    └── InputError                a file or peer is malformed: a capture, NetLog, HAR, log
        └── UnsupportedVersion    a capture written by a newer tearline

Every error carries a one-line message that names the file, the place (line,
key, flag) and the fix. The CLI prints ``Error: <message>`` and exits 2; an
addon re-raises a ``UsageError`` as mitmproxy's ``OptionsError`` so that
mitmdump stops at start-up.

Malformed *traffic* is never an error: the recorder turns it into an
``anomaly`` event in the capture and carries on.
"""

from __future__ import annotations

__all__ = ["InputError", "TearlineError", "UnsupportedVersion", "UsageError", "where"]


def where(path: object | None = None, line: int | None = None, place: str | None = None) -> str:
    """Format a location prefix: ``file.jsonl:12: `` or ``scenario.toml, fault 2, key 'to': ``."""
    parts: list[str] = []
    if path is not None:
        parts.append(f"{path}:{line}" if line is not None else str(path))
    elif line is not None:
        parts.append(f"line {line}")
    if place:
        parts.append(place)
    return (", ".join(parts) + ": ") if parts else ""


class TearlineError(Exception):
    """Base class. ``str(err)`` is one line meant for a person."""

    def __init__(
        self,
        message: str,
        *,
        path: object | None = None,
        line: int | None = None,
        place: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.path = path
        self.line = line
        self.place = place
        self.hint = hint
        text = where(path, line, place) + message
        if hint:
            text += f" ({hint})"
        super().__init__(" ".join(text.split()))


class UsageError(TearlineError):
    """The user's own input is wrong (an option value, a CLI flag, a scenario file)."""


class InputError(TearlineError):
    """A file or peer handed to tearline is malformed or not what it claims to be."""


class UnsupportedVersion(InputError):
    """A capture was written in a newer format version than this tearline reads."""
