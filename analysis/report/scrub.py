"""Captured text made fit to show a person: secrets blanked, control characters
made visible, length bounded. Used by the report page and the figures alike.

Escaping for HTML is not done here (the report template autoescapes); this is
about *what* is shown, not how it is encoded.
"""

from __future__ import annotations

import re

from tearline.redact import DEFAULT_PARAMS, REDACTED, redact_url

__all__ = ["MAX_TEXT", "scrub", "scrub_url"]

MAX_TEXT = 2000  # characters of any one captured string shown

_SECRET_PAIR = re.compile(r"(?i)(?<![\w-])(" + "|".join(map(re.escape, DEFAULT_PARAMS)) + r")=([^&\s\"'<>]+)")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def scrub(text: object, limit: int = MAX_TEXT) -> str:
    """``text`` with secret-looking ``name=value`` pairs (the names of
    ``tearline.redact.DEFAULT_PARAMS``) and bearer/basic credentials replaced by
    ``REDACTED``, control characters shown as ``\\xNN`` and at most ``limit``
    characters kept. None becomes ""."""
    if text is None:
        return ""
    s = str(text)
    if len(s) > limit:
        s = s[:limit] + f"… ({len(s) - limit} more characters)"
    s = _SECRET_PAIR.sub(lambda m: f"{m.group(1)}={REDACTED}", s)
    s = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", s)
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", s)


def scrub_url(url: str | None) -> str:
    """A URL with secret query values and user:password removed, then scrubbed."""
    return scrub(redact_url(url)) if url else "(no URL)"
