"""The user's own Caddy, both legs recorded with no edit to their Caddyfile (``[target] caddyfile = PATH``).

``caddy adapt`` turns the Caddyfile into Caddy's JSON config; this module then
rewrites that JSON (pure functions, no I/O):

- every ``reverse_proxy`` upstream ``dial`` (``127.0.0.1:3000``) becomes the address of a backend tap
  (a mitmdump recording, and injecting the ``leg = "backend"`` faults) that forwards to it; with a TLS
  transport the tap is reached over TLS and Caddy skips verifying its certificate;
- every listener binds 127.0.0.1 only (``:8443`` becomes ``127.0.0.1:8443``);
- the admin API moves to a free loopback port, config persistence is off;
- every log goes as JSON at DEBUG to ``caddy.log`` in the run directory, access logs included.

The rewritten config is ``caddy.json`` in the run directory (what ``tearline diagnose`` may read).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tearline.errors import UsageError
from tearline.lab.caddy import adapt_caddyfile, free_port, run_caddy_json
from tearline.runs.launch import AppSite, LaunchContext

__all__ = ["launch_user_caddy", "listen_ports", "rewrite_config", "upstream_dials"]


def _proxies(node: Any) -> Iterator[dict[str, Any]]:
    """Every reverse_proxy handler anywhere in the config (routes, subroutes, error routes)."""
    if isinstance(node, dict):
        if node.get("handler") == "reverse_proxy":
            yield node
        for value in node.values():
            yield from _proxies(value)
    elif isinstance(node, list):
        for value in node:
            yield from _proxies(value)


def _tls(proxy: Mapping[str, Any]) -> bool:
    transport = proxy.get("transport") or {}
    return isinstance(transport, dict) and "tls" in transport


def upstream_dials(config: Mapping[str, Any]) -> list[tuple[str, bool]]:
    """The distinct (dial, over TLS) of every reverse_proxy upstream, in order of appearance."""
    seen: list[tuple[str, bool]] = []
    for proxy in _proxies(config):
        for upstream in proxy.get("upstreams") or []:
            item = (str(upstream.get("dial", "")), _tls(proxy))
            if item[0] and "{" not in item[0] and item not in seen:
                seen.append(item)
    return seen


def _loopback(listen: str) -> str:
    prefix, _, rest = listen.rpartition("/")  # "tcp/:443" network prefix
    host, _, port = rest.rpartition(":")
    if host in ("", "0.0.0.0", "[::]", "::"):
        host = "127.0.0.1"
    return (prefix + "/" if prefix else "") + f"{host}:{port}"


def listen_ports(config: Mapping[str, Any]) -> list[int]:
    ports = []
    servers = ((config.get("apps") or {}).get("http") or {}).get("servers") or {}
    for server in servers.values():
        for listen in server.get("listen") or []:
            port = str(listen).rpartition(":")[2]
            if port.isdigit() and int(port) not in ports:
                ports.append(int(port))
    return ports


def rewrite_config(
    config: Mapping[str, Any], *, dial_map: Mapping[tuple[str, bool], str], admin_port: int, log_path: Path
) -> dict[str, Any]:
    """A copy of ``config`` with upstreams tapped, listeners on loopback, admin and logs moved (see module doc)."""
    out: dict[str, Any] = copy.deepcopy(dict(config))
    for proxy in _proxies(out):
        tls = _tls(proxy)
        for upstream in proxy.get("upstreams") or []:
            key = (str(upstream.get("dial", "")), tls)
            if key in dial_map:
                upstream["dial"] = dial_map[key]
        if tls:
            proxy["transport"]["tls"]["insecure_skip_verify"] = True  # the tap's certificate
    out["admin"] = {"listen": f"127.0.0.1:{admin_port}", "config": {"persist": False}}
    out["logging"] = {
        "logs": {
            "default": {
                "writer": {"output": "file", "filename": str(log_path), "roll": False},
                "encoder": {"format": "json"},
                "level": "DEBUG",
            }
        }
    }
    servers = ((out.get("apps") or {}).get("http") or {}).get("servers") or {}
    for server in servers.values():
        server["listen"] = [_loopback(str(x)) for x in server.get("listen") or []]
        server.setdefault("logs", {})  # access logs, into the default log above
    return out


def launch_user_caddy(
    ctx: LaunchContext, caddyfile: Path, *, url: str, upstream: str | None, source: str
) -> AppSite:
    """Tap every upstream of the user's Caddyfile, start Caddy from the rewritten JSON, return the site."""
    config = adapt_caddyfile(caddyfile)
    dials = upstream_dials(config)
    if not dials:
        raise UsageError(
            "has no reverse_proxy upstream to tap",
            path=caddyfile,
            hint="the backend leg is recorded at reverse_proxy",
        )
    dial_map: dict[tuple[str, bool], str] = {}
    for dial, tls in dials:
        tap = ctx.tap(f"{'https' if tls else 'http'}://{dial}", leg="backend")
        dial_map[(dial, tls)] = tap.address
    admin_port = free_port()
    ports = listen_ports(config)
    if not ports:
        raise UsageError(
            "serves no port Caddy would listen on",
            path=caddyfile,
            hint="give the site an address with a port",
        )
    rewritten = rewrite_config(
        config, dial_map=dial_map, admin_port=admin_port, log_path=ctx.out_dir / "caddy.log"
    )
    caddy = ctx.stack.enter_context(
        run_caddy_json(rewritten, ctx.out_dir, admin_port=admin_port, ports=ports)
    )
    parts = urlsplit(url)
    front = upstream or f"{parts.scheme}://127.0.0.1:{parts.port or ports[0]}"
    return AppSite(
        front=front,
        host=parts.hostname or "localhost",
        scheme=parts.scheme,
        caddy=caddy,
        caddy_log=caddy.log_path,
        caddy_config=caddy.config_path,
        captures=tuple(t.capture for t in ctx.taps if t.leg == "backend"),
        ports=(*ports, admin_port),
    )
