"""Record the seed NetLog the synthetic NetLogs are built from: ``python bench/record_netlog_seed.py``.

The lab's ``client_navigation`` scenario (``tearline.lab.scenarios``) runs a real headless Chromium
(``/usr/bin/chromium`` through Playwright, ``--log-net-log`` in Everything mode) against the lab's
Caddy, both mitmdump legs and the back end, all on 127.0.0.1: the page streams an answer over a
streamed ``fetch`` (SSE) and a WebSocket, and the user clicks a link mid-answer.

Its ``netlog.json`` is scrubbed before it is committed as ``bench/seed_netlog.json``:

- every source whose events name a host that is not loopback (Chromium's own background requests to
  ``accounts.google.com`` or ``update.googleapis.com``, refused by the lab's host-resolver rules) is
  dropped whole, with the sources that depend on it; shared sources (the cookie store, ...) lose only
  such events; so the seed holds loopback traffic only;
- ``constants.clientInfo.command_line`` loses its temporary paths; ``polledData`` (the browser's
  caches and settings at the end) is left empty.

The events keep Chrome's own layout: one event per line, keys in Chrome's order.
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path
from typing import Any

import orjson

SEED = Path(__file__).resolve().parent / "seed_netlog.json"
SCENARIO = "client_navigation"

# a URL's host, or a string value that is a whole public domain name (a cookie domain, a resolver key)
_HOST = re.compile(
    rb'(?:https?|wss?)://([A-Za-z0-9.~-]+)|"([a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|net|org|io|dev|app))"'
)
_LOOPBACK = re.compile(r"^(?:localhost|[a-z0-9-]+\.localhost|127\.\d+\.\d+\.\d+|~notfound)$")
_TMP = re.compile(r"/tmp/\S+")
# sources the whole browser shares: only their events that name a foreign host go, not the source
SHARED = {"NONE", "NETWORK_QUALITY_ESTIMATOR", "COOKIE_STORE", "NETWORK_CHANGE_NOTIFIER"}


def _foreign(e: dict[str, Any]) -> bool:
    params = e.get("params")
    if not params:
        return False
    for m in _HOST.finditer(orjson.dumps(params)):
        host = (m.group(1) or m.group(2) or b"").decode().lower()
        if not _LOOPBACK.match(host):
            return True
    return False


def loopback_only(events: list[dict[str, Any]], source_types: dict[int, str]) -> list[dict[str, Any]]:
    """The events without any that name a host that is not loopback, nor any of their sources' (or of
    sources that depend on those), except that shared sources lose only those events."""
    shared = {i for i, name in source_types.items() if name in SHARED}
    drop = {e["source"]["id"] for e in events if _foreign(e) and e["source"]["type"] not in shared}
    while True:  # sources that depend on a dropped one (a connect job's socket, ...)
        more = {
            e["source"]["id"]
            for e in events
            if e["source"]["type"] not in shared
            and e["source"]["id"] not in drop
            and ((e.get("params") or {}).get("source_dependency") or {}).get("id") in drop
        }
        if not more:
            break
        drop |= more
    return [e for e in events if e["source"]["id"] not in drop and not _foreign(e)]


def scrub(raw: bytes) -> bytes:
    """The scrubbed seed, written as Chrome writes a NetLog (one event per line)."""
    doc = orjson.loads(raw)
    constants = doc["constants"]
    info = constants.get("clientInfo") or {}
    if "command_line" in info:
        info["command_line"] = _TMP.sub("/tmp/...", info["command_line"])
    events = doc["events"]
    types = {v: str(k) for k, v in constants["logSourceType"].items()}
    kept = loopback_only(events, types)
    lines = [b'{"constants":' + orjson.dumps(constants) + b",", b'"events": [']
    lines += [orjson.dumps(e) + b"," for e in kept[:-1]]
    lines.append(orjson.dumps(kept[-1]) + b"],")
    lines.append(b'"polledData": {}')
    lines.append(b"}")
    return b"\n".join(lines) + b"\n"


def main(out: Path = SEED) -> int:
    from tearline.lab.scenarios import record_scenario

    with tempfile.TemporaryDirectory() as d:
        bundle = record_scenario(SCENARIO, Path(d) / SCENARIO)
        out.write_bytes(scrub(bundle.netlog.read_bytes()))
    print(f"wrote {out} ({out.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
