"""Load every evidence file a user hands ``tearline diagnose``/``report``, checking each is what its flag says.

``load_evidence(captures=(), netlog=None, cdp=None, har=None, console=None, caddy_log=None)``
returns one ``SourceRecord`` per file, in that order. Before parsing, ``sniff`` reads the first
64 KiB and names the format it sees; a file passed to the wrong flag (a HAR given to ``--netlog``)
is refused with one line saying what it looks like and which flag takes it. A file ``sniff``
cannot place is handed to the flag's importer, which raises its own ``InputError`` if it is not
what it should be.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path

from tearline.analysis.evidence.observation import SourceRecord
from tearline.analysis.evidence.sourcefile import read_head

from tearline.errors import InputError

__all__ = ["FORMATS", "load_evidence", "sniff"]

# format -> (flag that takes it, what it is for a person)
FORMATS: dict[str, tuple[str, str]] = {
    "netlog": ("--netlog", "a Chrome NetLog"),
    "cdp": ("--cdp", "a DevTools Protocol event log"),
    "har": ("--har", "a HAR file"),
    "console": ("--console", "a console log"),
    "caddy": ("--caddy-log", "a Caddy JSON log"),
    "capture": ("CAPTURE (a positional argument)", "a tearline capture"),
}

_CDP_METHOD = re.compile(r'"method"\s*:\s*"(?:Network|Page|Runtime|Log|Inspector|Target|Fetch|Security)\.')
_CDP_WRAPPED = re.compile(r'\\"method\\"\s*:\s*\\"(?:Network|Page|Runtime|Log|Inspector|Target)\.')
_TIMESTAMP_LINE = re.compile(
    r"^(?:\[?\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}|\[?\d{10}(?:\.\d+)?\b|\[?\d{13}\b|\[(?:\d+:)*\d{4}/\d{6}|\d{2}:\d{2}:\d{2}[.,]\d)"
)


def sniff(path: str | os.PathLike[str]) -> str | None:
    """Name the evidence format of ``path`` from its first 64 KiB, or None when unsure."""
    if Path(path).is_dir():
        return "netlog" if (Path(path) / "constants.json").exists() else None
    head = read_head(path)
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
    if not text:
        return None
    if text.startswith("Logging is in progress writing data to:"):
        return "netlog"  # the note Chrome leaves in place of a bounded-mode NetLog
    if text.startswith("{"):
        first_line = text.split("\n", 1)[0]
        if '"tearline-capture"' in first_line:
            return "capture"
        if '"constants"' in text[:200] or '"logEventTypes"' in text:
            return "netlog"
        if re.match(r'\{\s*"log"\s*:', text) or ('"entries"' in text and '"creator"' in text):
            return "har"
        if _CDP_METHOD.search(text) or _CDP_WRAPPED.search(text):
            return "cdp"
        try:
            obj = json.loads(first_line)
        except json.JSONDecodeError:
            obj = None
        if isinstance(obj, dict) and "msg" in obj and "ts" in obj:
            return "caddy"
        return None
    if text.startswith("["):
        if _CDP_METHOD.search(text) or _CDP_WRAPPED.search(text):
            return "cdp"
        if _TIMESTAMP_LINE.match(text):
            return "console"
        return None
    lines = [ln for ln in text.splitlines()[:50] if ln.strip()]
    if lines and sum(bool(_TIMESTAMP_LINE.match(ln)) for ln in lines) >= max(1, len(lines) // 3):
        return "console"
    return None


def _check(path: str | os.PathLike[str], expected: str) -> None:
    found = sniff(path)
    if found is None or found == expected:
        return
    flag, what = FORMATS[found]
    exp_flag, exp_what = FORMATS[expected]
    raise InputError(
        f"this looks like {what}, not {exp_what} ({exp_flag})",
        path=Path(path),
        hint=f"pass it as {flag}",
    )


def _importers() -> dict[str, Callable[[str | os.PathLike[str]], SourceRecord]]:
    from tearline.analysis.evidence.caddylog import load_caddy_log
    from tearline.analysis.evidence.capture import load_capture
    from tearline.analysis.evidence.cdp import load_cdp
    from tearline.analysis.evidence.console import load_console
    from tearline.analysis.evidence.har import load_har
    from tearline.analysis.evidence.netlog.interpreter import load_netlog

    return {
        "netlog": load_netlog,
        "cdp": load_cdp,
        "har": load_har,
        "console": load_console,
        "caddy": load_caddy_log,
        "capture": partial(load_capture, fold=True),  # plain messages as runs: what the diagnosis reads
    }


def load_evidence(
    captures: Iterable[str | os.PathLike[str]] = (),
    netlog: str | os.PathLike[str] | None = None,
    cdp: str | os.PathLike[str] | None = None,
    har: str | os.PathLike[str] | None = None,
    console: str | os.PathLike[str] | None = None,
    caddy_log: str | os.PathLike[str] | None = None,
) -> list[SourceRecord]:
    """One ``SourceRecord`` per given file (captures first). Raises ``InputError`` on a bad file."""
    importers = _importers()
    jobs: list[tuple[str, str | os.PathLike[str]]] = [("capture", c) for c in captures]
    for kind, path in (
        ("netlog", netlog),
        ("cdp", cdp),
        ("har", har),
        ("console", console),
        ("caddy", caddy_log),
    ):
        if path is not None:
            jobs.append((kind, path))
    records: list[SourceRecord] = []
    for kind, path in jobs:
        _check(path, kind)
        records.append(importers[kind](path))
    return records
