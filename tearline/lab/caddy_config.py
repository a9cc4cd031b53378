"""The lab's Caddy configuration, built as Caddy's own JSON (a dict), from ``CaddySite`` rows.

``lab_config(sites, ...)`` is a pure function: one server (``srv0``) listening on ``127.0.0.1:<port>``,
one route per site matched by host name (``www.localhost``, ``ai.localhost``: Chromium resolves
``*.localhost`` to loopback), each a ``reverse_proxy`` to its upstream with the site's timers. Caddy loads
it as it is (``caddy run --config caddy.json``, ``POST /load`` on the admin API): no Caddyfile adapter, no
text templating. The same file is what ``tearline diagnose --caddy-config`` reads the timers from.

============================  ==============================================================
``CaddySite`` field            Caddy JSON
============================  ==============================================================
``upstream``                  route handler ``reverse_proxy``, ``upstreams: [{dial}]``
``flush_interval``            ``reverse_proxy.flush_interval`` (-1: after every write)
``stream_timeout``            ``reverse_proxy.stream_timeout``
``stream_close_delay``        ``reverse_proxy.stream_close_delay``
``read_timeout``              ``reverse_proxy.transport`` (``http``) ``read_timeout``
``keepalive_idle``            ``reverse_proxy.transport`` (``http``) ``keep_alive.idle_timeout``
                              (how long Caddy keeps an idle connection to the upstream)
``write_timeout``             the server's ``write_timeout`` (the smallest any site asks for)
``server_read_timeout``       the server's ``read_timeout`` (request body; the smallest asked for)
``idle_timeout``              the server's ``idle_timeout`` (keep-alive; the smallest asked for)
============================  ==============================================================

Every log line (the access log, ``http.handlers.reverse_proxy`` at DEBUG, admin) goes as JSON to one
file through the default logger. The admin API listens on 127.0.0.1 only. ``tls=True``: HTTPS and
HTTP/2 with certificates from Caddy's internal CA (``tls`` app, issuer ``internal``; not installed in any
trust store), no HTTP->HTTPS redirect listener, and a ``default_sni`` so a client sending no SNI (a proxy
dialling 127.0.0.1) still gets a certificate. Durations are seconds (floats) in ``CaddySite`` and
nanoseconds (integers) in the JSON, as Caddy reads them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tearline.errors import UsageError

__all__ = ["SERVER_NAME", "CaddySite", "lab_config", "nanoseconds"]

SERVER_NAME = "srv0"
NS_PER_MS = 1_000_000
UPSTREAM = re.compile(r"(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}")  # host:port, [v6]:port


@dataclass(frozen=True, kw_only=True, slots=True)
class CaddySite:
    """One site: ``http://<host>:<port>`` reverse-proxied to ``upstream`` (``host:port``)."""

    host: str  # e.g. "www.localhost"
    upstream: str  # e.g. "127.0.0.1:8001"
    stream_timeout: float | None = None  # seconds: hard lifetime of upgraded (WebSocket) streams
    stream_close_delay: float | None = None  # seconds: keep upgraded streams open this long after a reload
    flush_interval: float | None = None  # seconds; -1 flushes after every write
    read_timeout: float | None = None  # seconds: reverse_proxy transport http read_timeout (upstream silence)
    write_timeout: float | None = None  # seconds: the server's write timeout (global: any site's sets it)
    server_read_timeout: float | None = (
        None  # seconds: the server's read timeout (global, like write_timeout)
    )
    idle_timeout: float | None = None  # seconds: the server's keep-alive idle timeout (global)
    keepalive_idle: float | None = (
        None  # seconds: reverse_proxy keep_alive idle_timeout (toward the upstream)
    )

    def __post_init__(self) -> None:
        # Caddy's JSON takes any dial string and fails only when a request comes: say it here instead
        if not UPSTREAM.fullmatch(self.upstream):
            raise UsageError(
                f"Caddy site {self.host}: upstream {self.upstream!r} is not host:port",
                hint="give the back end's address, e.g. 127.0.0.1:8001 (no scheme, no path)",
            )


def nanoseconds(seconds: float) -> int:
    """A Caddy JSON duration: whole milliseconds in nanoseconds, or -1 (``flush_interval`` -1)."""
    if seconds < 0:
        return -1
    return round(seconds * 1000) * NS_PER_MS


def _reverse_proxy(site: CaddySite) -> dict[str, Any]:
    handler: dict[str, Any] = {"handler": "reverse_proxy", "upstreams": [{"dial": site.upstream}]}
    for key in ("flush_interval", "stream_timeout", "stream_close_delay"):
        value = getattr(site, key)
        if value is not None:
            handler[key] = nanoseconds(value)
    transport: dict[str, Any] = {}
    if site.read_timeout is not None:
        transport["read_timeout"] = nanoseconds(site.read_timeout)
    if site.keepalive_idle is not None:
        transport["keep_alive"] = {"idle_timeout": nanoseconds(site.keepalive_idle)}
    if transport:
        handler["transport"] = {"protocol": "http", **transport}
    return handler


def _route(site: CaddySite) -> dict[str, Any]:
    return {"match": [{"host": [site.host]}], "handle": [_reverse_proxy(site)], "terminal": True}


def _server(sites: Sequence[CaddySite], port: int, tls: bool) -> dict[str, Any]:
    server: dict[str, Any] = {
        "listen": [f"127.0.0.1:{port}"],
        "routes": [_route(s) for s in sites],
        "logs": {},  # access logs for every host, through the default logger
    }
    # server timers are per server and every site is on this one: the shortest asked for wins
    for field, key in (
        ("write_timeout", "write_timeout"),
        ("server_read_timeout", "read_timeout"),
        ("idle_timeout", "idle_timeout"),
    ):
        asked = [getattr(s, field) for s in sites if getattr(s, field) is not None]
        if asked:
            server[key] = nanoseconds(min(asked))
    if not tls:
        server["automatic_https"] = {"disable": True}
        return server
    server["automatic_https"] = {"disable_redirects": True}
    if sites:
        first = sites[0].host
        server["tls_connection_policies"] = [
            {"match": {"sni": ["", first]}, "default_sni": first},
            {"default_sni": first},
        ]
    return server


def lab_config(
    sites: Sequence[CaddySite],
    *,
    port: int,
    admin_port: int,
    log_path: Path,
    data_dir: Path,
    tls: bool = False,
) -> dict[str, Any]:
    """Caddy's JSON config for ``sites`` on ``127.0.0.1:port`` (see the module's table); pure function."""
    http: dict[str, Any] = {"servers": {SERVER_NAME: _server(sites, port, tls)}}
    http["https_port" if tls else "http_port"] = port
    apps: dict[str, Any] = {"http": http}
    if tls:
        apps["pki"] = {"certificate_authorities": {"local": {"install_trust": False}}}
        apps["tls"] = {
            "automation": {
                "policies": [{"subjects": [s.host for s in sites], "issuers": [{"module": "internal"}]}]
            }
        }
    return {
        "admin": {"listen": f"127.0.0.1:{admin_port}", "config": {"persist": False}},
        "logging": {
            "logs": {
                "default": {
                    "writer": {"output": "file", "filename": str(log_path), "roll": False},
                    "encoder": {"format": "json"},
                    "level": "DEBUG",
                }
            }
        },
        "storage": {"module": "file_system", "root": str(data_dir)},
        "apps": apps,
    }
