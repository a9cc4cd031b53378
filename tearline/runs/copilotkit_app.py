"""Launcher of the real CopilotKit stack (``app = "copilotkit"``): the agent, ``next start``, Caddy, a tap.

Chromium ──► browser tap ──► Caddy ─┬─ app.localhost ──► next start (CopilotKit runtime)
                                    └─ ai.localhost  ──► backend tap ──► agent (LangGraph over AG-UI)

``tearline.lab.copilotkit.stack.run_stack`` starts the parts (and builds the app on first use, ``make app``);
this adapts it to the run driver: the back-end tap sits between Caddy and the agent (the hop where the
runtime's call to the agent can be seen to go on after the browser left), ``leg = "backend"`` faults go to
it, and the browser tap is the driver's. The header link to the other domain (``#docs-link``) points at
Caddy directly: the navigation away is in the NetLog, not in the browser tap's capture.
"""

from __future__ import annotations

from tearline.lab.copilotkit.stack import run_stack
from tearline.runs.launch import AppSite, LaunchContext, Tap, fault_toml

__all__ = ["launch_copilotkit"]


def launch_copilotkit(ctx: LaunchContext) -> AppSite:
    opts = ctx.options
    taps: tuple[str, ...] = ("agent",) if opts["backend_tap"] else ()
    faults = {"agent": fault_toml(ctx.backend_faults)} if ctx.backend_faults and taps else {}
    stack = ctx.stack.enter_context(
        run_stack(
            ctx.out_dir,
            tls=ctx.tls,
            taps=taps,
            faults=faults,
            tokens=int(opts["tokens"]),
            interval=float(opts["interval"]),
        )
    )
    for leg, capture in stack.captures.items():
        # registered with the driver as its back-end tap (the process belongs to run_stack's own stack)
        ctx.taps.append(Tap(leg="backend", upstream=leg, port=0, capture=capture, proxy=None))
    caddy = stack.caddy
    return AppSite(
        front=f"{caddy.scheme}://127.0.0.1:{caddy.port}",
        host="app.localhost",
        scheme=caddy.scheme,
        caddy=caddy,
        caddy_log=caddy.log_path,
        caddy_config=caddy.config_path,
        backend_log=stack.agent_log,
        captures=tuple(stack.captures.values()),
        ports=(caddy.port, caddy.admin_port),
    )
