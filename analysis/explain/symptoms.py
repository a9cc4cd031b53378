"""What a browser symptom means: Chrome net errors, WebSocket close codes, sad-tab pages, console texts.

The tables live in ``analysis/evidence/browser_codes.py`` (re-exported here).

``explain(symptom)`` reads whatever the user pasted ("Error code: 11", the whole crashed-page text,
"net::ERR_ABORTED", "-355", "1006", "close 1001", a console line) and returns an ``Explanation``;
``explain_command`` is ``tearline explain SYMPTOM [--json]``.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import asdict, dataclass
from typing import Any

import click
from tearline.analysis.evidence.browser_codes import (
    CLOSE_CODES,
    CONSOLE_TEXTS,
    NET_ERROR_NOTES,
    SAD_TAB_CAUSES,
    SAD_TAB_CODES,
    SAD_TAB_MEANING,
    SAD_TAB_STEPS,
    CloseCode,
    net_error_name,
    net_error_number,
    net_errors,
)
from tearline.analysis.explain.client_errors import CLIENT_TEXTS

from tearline.errors import UsageError

__all__ = [
    "CLOSE_CODES",
    "CONSOLE_TEXTS",
    "NET_ERROR_NOTES",
    "SAD_TAB_CODES",
    "CloseCode",
    "Explanation",
    "explain",
    "explain_command",
    "net_error_name",
    "net_error_number",
    "net_errors",
]


@dataclass(frozen=True, slots=True)
class Explanation:
    """What a symptom means. ``kind``: net_error | close_code | sad_tab | console | client."""

    symptom: str
    kind: str
    name: str
    code: int | None
    meaning: str
    causes: tuple[str, ...] = ()
    network: bool = True  # False: not a network error at all (sad tab, ERR_WS_UPGRADE, ERR_IO_PENDING)
    next_steps: tuple[str, ...] = ()
    also: tuple[str, ...] = ()  # other readings of an ambiguous symptom

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("causes", "next_steps", "also"):
            d[k] = list(d[k])
        return d

    def to_text(self) -> str:
        head = f"{self.name}" + (
            f" ({self.code})" if self.code is not None and str(self.code) not in self.name else ""
        )
        lines = [f"{head}: {self.meaning}."]
        if not self.network:
            lines.append("Not a network error.")
        if self.causes:
            lines.append("Usual causes:")
            lines += [f"  - {c}" for c in self.causes]
        if self.next_steps:
            lines.append("Next:")
            lines += [f"  - {s}" for s in self.next_steps]
        if self.also:
            lines.append("Could also be:")
            lines += [f"  - {a}" for a in self.also]
        return "\n".join(lines)


def _net_error(symptom: str, name: str, also: tuple[str, ...] = ()) -> Explanation:
    number = net_errors()[name]
    meaning, causes = NET_ERROR_NOTES.get(name, (_family(number), ()))
    not_network = name in ("ERR_WS_UPGRADE", "ERR_IO_PENDING")
    steps: tuple[str, ...] = ()
    if name == "ERR_ABORTED":
        steps = (
            "check for a navigation or page crash at the same moment (tearline diagnose --cdp/--netlog)",
        )
    elif name in (
        "ERR_INCOMPLETE_CHUNKED_ENCODING",
        "ERR_HTTP2_PROTOCOL_ERROR",
        "ERR_CONTENT_LENGTH_MISMATCH",
    ):
        steps = (
            "check the proxy log for 'aborting with incomplete response' and the upstream at that second",
        )
    return Explanation(
        symptom=symptom,
        kind="net_error",
        name=name,
        code=number,
        meaning=f"Chrome net error {number}: {meaning}",
        causes=causes,
        network=not not_network,
        next_steps=steps,
        also=also,
    )


def _family(number: int) -> str:
    n = -number
    for lo, hi, what in (
        (0, 99, "a system-level error"),
        (100, 199, "a connection error"),
        (200, 299, "a certificate error"),
        (300, 399, "an HTTP error"),
        (400, 499, "a cache error"),
        (500, 599, "a misc error"),
        (800, 899, "a DNS error"),
    ):
        if lo <= n <= hi:
            return what
    return "a Chrome network error"


def _close_code(symptom: str, code: int, also: tuple[str, ...] = ()) -> Explanation:
    cc = CLOSE_CODES.get(code)
    if cc is None:
        if 3000 <= code <= 3999:
            cc = CloseCode(
                "Registered (3000-3999)", "a code registered with IANA by a library or framework", ()
            )
        elif 4000 <= code <= 4999:
            cc = CloseCode(
                "Application (4000-4999)", "an application-defined close code", ("the app's own protocol",)
            )
        else:
            raise UsageError(f"{code} is not a WebSocket close code (1000-1015, 3000-4999)")
    wire = "" if cc.on_wire or "never sent" in cc.meaning else " (never sent on the wire)"
    return Explanation(
        symptom=symptom,
        kind="close_code",
        name=f"WebSocket close {code} {cc.name}",
        code=code,
        meaning=cc.meaning + wire,
        causes=cc.causes,
        network=True,
        next_steps=("the direction of the close frame tells who ended it: record both legs with tearline",)
        if code in (1000, 1001, 1006)
        else (),
        also=also,
    )


def _sad_tab(symptom: str, code: str) -> Explanation:
    what = SAD_TAB_CODES.get(code, f"exit status {code}")
    number = int(code) if code.isdigit() else None
    return Explanation(
        symptom=symptom,
        kind="sad_tab",
        name=f"Crashed tab, Error code: {code}",
        code=number,
        meaning=SAD_TAB_MEANING.format(what=what),
        causes=SAD_TAB_CAUSES,
        network=False,
        next_steps=SAD_TAB_STEPS,
    )


_SAD_TAB_RE = re.compile(r"error\s*code\s*[:=]?\s*([A-Za-z_]+[A-Za-z0-9_ ]*?|-?\d+)\s*$", re.I)
_SAD_TAB_WORDS = re.compile(r"aw,? snap|can.?t open this page|he's dead, jim|something went wrong", re.I)
_NET_NAME_RE = re.compile(r"(?:net::)?\b(ERR_[A-Z0-9_]+)\b", re.I)
_CLOSE_RE = re.compile(r"^(?:ws\s+)?(?:close(?:\s*code)?|code)\s*[:=]?\s*(\d{4})\b", re.I)
_INT_RE = re.compile(r"^[-+]?\d+$")


def explain(symptom: str) -> Explanation:
    """Explain a pasted symptom. Raises ``UsageError`` (one line, with close matches) when unknown."""
    text = " ".join(symptom.split())
    if not text:
        raise UsageError("empty symptom", hint="try tearline explain 'Error code: 11' or ERR_ABORTED or 1006")
    m = _NET_NAME_RE.search(text)
    if m and m.group(1).upper() in net_errors():
        # a console line naming a net error is explained by the error itself
        return _net_error(symptom, m.group(1).upper())
    for pattern, title, meaning, causes in CLIENT_TEXTS:
        cm = re.search(pattern, text, re.I)
        if cm:
            return Explanation(
                symptom=symptom,
                kind="client",
                name=title,
                code=None,
                meaning=meaning.format(*cm.groups()),
                causes=causes,
            )
    sad = _SAD_TAB_RE.search(text)
    if sad and (_SAD_TAB_WORDS.search(text) or re.match(r"^\s*error\s*code", text, re.I)):
        code = sad.group(1).strip()
        if code.upper().startswith("ERR_"):
            return _net_error(symptom, code.upper())
        return _sad_tab(symptom, code)
    if _SAD_TAB_WORDS.search(text):
        return _sad_tab(symptom, "?")
    m = _CLOSE_RE.match(text)
    if m:
        return _close_code(symptom, int(m.group(1)))
    if _INT_RE.match(text):
        return _number(symptom, int(text))
    for pattern, title, meaning, causes in CONSOLE_TEXTS:
        cm = re.search(pattern, text, re.I)
        if cm:
            return Explanation(
                symptom=symptom,
                kind="console",
                name=title,
                code=None,
                meaning=meaning.format(*cm.groups()),
                causes=causes,
            )
    if m := _NET_NAME_RE.search(text):
        raise UsageError(
            f"unknown Chrome net error {m.group(1).upper()!r}",
            hint=_close_matches(m.group(1).upper()),
        )
    raise UsageError(
        f"unknown symptom {text[:80]!r}: not a Chrome net error, WebSocket close code, "
        "'Error code: N' page, known console text or client library message",
        hint=_close_matches(text),
    )


def _number(symptom: str, n: int) -> Explanation:
    if n == 0:
        return Explanation(
            symptom=symptom,
            kind="net_error",
            name="OK",
            code=0,
            meaning="net::OK (0): success, not an error",
            network=False,
        )
    if n < 0:
        name = net_error_name(n)
        if name is None or name == "OK":
            raise UsageError(f"{n} is not a Chrome net error number", hint=_close_matches(str(n)))
        return _net_error(symptom, name)
    if 1000 <= n <= 4999:
        return _close_code(symptom, n)
    if str(n) in SAD_TAB_CODES:
        other = net_error_name(-n)
        also = (f"net error {other} ({-n}) if you meant a negative net error number",) if other else ()
        e = _sad_tab(symptom, str(n))
        return Explanation(**{**asdict(e), "also": also, "causes": e.causes, "next_steps": e.next_steps})
    name = net_error_name(-n)
    if name is not None:
        return _net_error(symptom, name, also=(f"read {n} as net error {-n}",))
    raise UsageError(f"{n} is not a known net error number, close code or sad-tab code")


def _close_matches(text: str) -> str:
    vocabulary = [*net_errors(), *(str(c) for c in CLOSE_CODES), "Error code: 11"]
    matches = difflib.get_close_matches(text.upper().removeprefix("NET::"), vocabulary, n=3, cutoff=0.6)
    if matches:
        return "close matches: " + ", ".join(matches)
    return "try a net error name like ERR_ABORTED, a number like -355, a close code like 1006, or 'Error code: 11'"


@click.command("explain", context_settings={"ignore_unknown_options": True})
@click.argument("symptom", nargs=-1, required=True, type=click.UNPROCESSED)
@click.option("--json", "as_json", is_flag=True, help="Print the explanation as JSON.")
def explain_command(symptom: tuple[str, ...], as_json: bool) -> None:
    """What a Chrome error, net error or WebSocket close code means.

    SYMPTOM is what you saw: "Error code: 11", the whole crashed-page text,
    ERR_INCOMPLETE_CHUNKED_ENCODING, net::ERR_ABORTED, -355, 1006, "close 1001",
    or a console line such as "WebSocket connection to 'wss://…' failed: …",
    or what a client library printed about a cut or reset stream: "curl: (18) …",
    "curl: (56) …", httpx's RemoteProtocolError, aiohttp's ClientPayloadError,
    websockets' "no close frame received or sent", Node's "TypeError: terminated",
    "socket hang up", ECONNRESET, the ws package's "Invalid WebSocket frame".
    """
    exp = explain(" ".join(symptom))
    if as_json:
        click.echo(json.dumps(exp.to_dict(), indent=2, ensure_ascii=False))
    else:
        click.echo(exp.to_text())
