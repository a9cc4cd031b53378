"""Launcher of the bundled incident (``app = "incident"``): the agent, a backend tap, and Caddy.

Chromium ──► browser tap ──► Caddy (www.localhost, ai.localhost) ──► backend tap ──► agent (backend.py)

The browser tap is the driver's; this starts the rest with the files in the
run's directory (``backend.log``, ``capture-backend.jsonl``, ``caddy.json``,
``caddy.log``) and returns where the browser tap must forward to.
"""

from __future__ import annotations

from tearline.lab.caddy import CaddySite, free_port, run_caddy
from tearline.lab.incident.backend import run_backend
from tearline.runs.launch import AppSite, LaunchContext

__all__ = ["launch_incident"]


def launch_incident(ctx: LaunchContext) -> AppSite:
    opts = ctx.options
    backend = ctx.stack.enter_context(run_backend(ctx.out_dir / "backend.log"))
    ai_upstream = f"127.0.0.1:{free_port()}" if opts["ai_down"] else backend.address
    captures = []
    if opts["backend_tap"] and not opts["ai_down"]:
        tap = ctx.tap(f"http://{ai_upstream}", leg="backend")
        ai_upstream = tap.address
        captures.append(tap.capture)
    ai_site: dict[str, float] = {}
    for key in ("stream_timeout", "stream_close_delay"):
        if opts[key]:
            ai_site[key] = float(opts[key])
    sites = [
        CaddySite(host="www.localhost", upstream=backend.address),
        CaddySite(host="ai.localhost", upstream=ai_upstream, **ai_site),
    ]
    caddy = ctx.stack.enter_context(run_caddy(sites, ctx.out_dir, tls=ctx.tls))
    return AppSite(
        front=f"{caddy.scheme}://127.0.0.1:{caddy.port}",
        host="www.localhost",
        scheme=caddy.scheme,
        caddy=caddy,
        caddy_log=caddy.log_path,
        caddy_config=caddy.config_path,
        backend_log=ctx.out_dir / "backend.log",
        captures=tuple(captures),
        ports=(backend.port, caddy.port, caddy.admin_port),
    )
