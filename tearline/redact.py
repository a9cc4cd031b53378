"""Redaction of secret headers and query parameters (pure functions, no I/O).

Users debug production apps through tearline, so captures never hold
credentials by default: the values of ``DEFAULT_HEADERS`` and of query
parameters named in ``DEFAULT_PARAMS`` become ``REDACTED``. Names match
case-insensitively; the name stays so a reader sees that the secret was there.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit, urlunsplit

__all__ = [
    "DEFAULT_HEADERS",
    "DEFAULT_PARAMS",
    "REDACTED",
    "Redactor",
    "parse_name_list",
    "redact_headers",
    "redact_query",
    "redact_url",
]

REDACTED = "[redacted]"

DEFAULT_HEADERS: tuple[str, ...] = (
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "x-auth-token",
    "x-csrf-token",
    "sec-websocket-key",
    "sec-websocket-accept",
)
DEFAULT_PARAMS: tuple[str, ...] = (
    "token",
    "access_token",
    "id_token",
    "refresh_token",
    "key",
    "api_key",
    "apikey",
    "secret",
    "password",
    "auth",
    "code",
    "signature",
    "sig",
    "session",
)


def parse_name_list(text: str) -> tuple[str, ...]:
    """``"a, B ,c"`` -> ``("a", "b", "c")``: a comma-separated option value, lower-cased.

    A leading ``+`` (``"+x-my-secret"``) means "the defaults plus these"; callers pass
    the defaults to ``Redactor.from_options``.
    """
    return tuple(p.strip().lower() for p in text.split(",") if p.strip())


def redact_headers(
    headers: Iterable[tuple[str, str]], names: Iterable[str] = DEFAULT_HEADERS
) -> tuple[tuple[str, str], ...]:
    """Headers with the values of secret ones replaced by ``REDACTED`` (order kept)."""
    secret = {n.lower() for n in names}
    return tuple((k, REDACTED if k.lower() in secret else v) for k, v in headers)


def redact_query(query: str, names: Iterable[str] = DEFAULT_PARAMS) -> str:
    """A raw query string with secret parameter values replaced; other bytes untouched."""
    if not query:
        return query
    secret = {n.lower() for n in names}
    out = []
    for part in query.split("&"):
        name, eq, _value = part.partition("=")
        if eq and name.lower() in secret:
            out.append(f"{name}={REDACTED}")
        else:
            out.append(part)
    return "&".join(out)


def redact_url(url: str, names: Iterable[str] = DEFAULT_PARAMS) -> str:
    """``url`` with secret query parameters redacted, and any ``user:password@`` removed."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    netloc = parts.netloc
    if "@" in netloc:
        netloc = REDACTED + "@" + netloc.rpartition("@")[2]
    return urlunsplit(
        SplitResult(parts.scheme, netloc, parts.path, redact_query(parts.query, names), parts.fragment)
    )


@dataclass(frozen=True, slots=True)
class Redactor:
    """The redaction policy in force: header names and query-parameter names (lower case)."""

    headers: tuple[str, ...] = DEFAULT_HEADERS
    params: tuple[str, ...] = DEFAULT_PARAMS

    @classmethod
    def from_options(cls, headers: str, params: str) -> Redactor:
        """From option values: a comma list replaces the defaults, ``+a,b`` adds to them,
        ``""`` keeps the defaults, ``"-"`` redacts nothing."""
        return cls(_names(headers, DEFAULT_HEADERS), _names(params, DEFAULT_PARAMS))

    def headers_of(self, headers: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
        return redact_headers(headers, self.headers)

    def url(self, url: str) -> str:
        return redact_url(url, self.params)


def _names(text: str, defaults: tuple[str, ...]) -> tuple[str, ...]:
    text = text.strip()
    if not text:
        return defaults
    if text == "-":
        return ()
    if text.startswith("+"):
        return defaults + tuple(n for n in parse_name_list(text[1:]) if n not in defaults)
    return parse_name_list(text)
