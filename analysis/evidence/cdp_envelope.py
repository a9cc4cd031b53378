"""Reading DevTools Protocol logs in the envelopes users hand us, for ``analysis/evidence/cdp.py``.

- a JSON array of ``{"method", "params"}`` messages (chrome-har / Lighthouse devtools logs);
- JSON Lines of the same (Puppeteer/Playwright ``CDPSession`` recordings; ``sessionId`` and other keys ignored);
- chromedriver's performance log: items ``{"message": "<json>" | {...}}`` whose message is
  ``{"message": {"method", "params"}, "webview": ...}`` (string or object, at either level);
- one object holding such a list under ``events``/``messages``/``log``.

A torn last JSON line (the recorder stopped mid-write) is dropped with a warning.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from tearline.analysis.evidence.jsonshape import obj
from tearline.analysis.evidence.sourcefile import open_text, parse_json

from tearline.errors import InputError

__all__ = ["Message", "read_messages"]

Message = tuple[str, str, dict[str, Any]]  # (where, method, params)


def _unwrap(item: Any, depth: int = 0) -> tuple[str, dict[str, Any]] | None:
    """(method, params) from a message or one of its wrappers; None when it is not a CDP message."""
    if depth > 3 or not isinstance(item, dict):
        return None
    method = item.get("method")
    if isinstance(method, str):
        return method, obj(item.get("params"))
    inner = item.get("message")
    if isinstance(inner, str):
        try:
            inner = json.loads(inner)
        except json.JSONDecodeError:
            return None
    return _unwrap(inner, depth + 1)


def read_messages(
    path: str | os.PathLike[str], *, flag: str | None = "--cdp"
) -> tuple[list[Message], list[str]]:
    """All CDP messages of a file (array or JSON Lines), with warnings. Raises ``InputError``."""
    p = Path(path)
    warnings: list[str] = []
    with open_text(p, flag=flag) as fh:
        text = fh.read()
    stripped = text.lstrip("\ufeff \t\r\n")
    if not stripped:
        raise InputError("empty file", path=p, hint="pass a DevTools Protocol event log to --cdp")
    items: list[tuple[str, Any]] = []
    if stripped.startswith("["):
        doc = parse_json(stripped, p, "a DevTools log is a JSON array or JSON Lines of {method, params}")
        if not isinstance(doc, list):
            raise InputError("not a JSON array", path=p)
        items = [(f"message {i}", item) for i, item in enumerate(doc)]
    elif stripped.startswith("{"):
        lines = text.splitlines()
        last = max((i for i, ln in enumerate(lines) if ln.strip()), default=-1)
        for i, line in enumerate(lines):
            if not line.strip():
                continue
            try:
                items.append((f"line {i + 1}", json.loads(line)))
            except json.JSONDecodeError as e:
                if i == last and not text.endswith("\n") and items:
                    warnings.append(f"{p}:{i + 1}: torn last line dropped (the recorder stopped mid-write)")
                    break
                if i == 0 and len([ln for ln in lines if ln.strip()]) == 1:
                    try:  # a single JSON object spread over one line: maybe {"events": [...]}
                        doc = json.loads(stripped)
                    except json.JSONDecodeError:
                        pass
                    else:
                        items = [(f"message {j}", it) for j, it in enumerate(_events_of(doc))]
                        break
                raise InputError(
                    f"not valid JSON ({e.msg} at column {e.colno})",
                    path=p,
                    line=i + 1,
                    hint="a DevTools log is a JSON array or JSON Lines of {method, params}",
                ) from None
        if len(items) == 1 and not _unwrap(items[0][1]):
            items = [(f"message {j}", it) for j, it in enumerate(_events_of(items[0][1]))]
    else:
        raise InputError(
            "not JSON: a DevTools log is a JSON array or JSON Lines of {method, params}",
            path=p,
            hint="pass a DevTools Protocol event log to --cdp",
        )
    messages: list[Message] = []
    other = 0
    for where, item in items:
        got = _unwrap(item)
        if got is None:
            other += 1
            continue
        messages.append((where, got[0], got[1]))
    if not messages:
        raise InputError(
            'no DevTools Protocol events (objects with a "method") in this JSON',
            path=p,
            hint="pass a DevTools Protocol event log to --cdp",
        )
    if other:
        warnings.append(
            f"{p}: {other} item(s) without a CDP method skipped (command responses or other JSON)"
        )
    return messages, warnings


def _events_of(doc: Any) -> list[Any]:
    if isinstance(doc, dict):
        for key in ("events", "messages", "log"):
            if isinstance(doc.get(key), list):
                return list(doc[key])
    return [doc]
