"""The bundled apps a run file can start with ``[target] app = "..."``: one literal row per app.

A row names the launcher (``"module:function"``, imported only when a run
starts the app) and the ``[target.options]`` the app accepts with their
defaults (the type of the default is the type the option must have). Adding an
app is one row here plus its launcher; the launcher's contract is in
``tearline.runs.driver.AppLauncher``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["APPS", "AppRow"]


@dataclass(frozen=True, kw_only=True, slots=True)
class AppRow:
    """One bundled app: its launcher and the options it takes."""

    launcher: str  # "module:function"
    summary: str
    default_path: str = "/"
    options: dict[str, bool | int | float | str] = field(default_factory=dict)


APPS: dict[str, AppRow] = {
    "incident": AppRow(
        launcher="tearline.runs.incident_app:launch_incident",
        summary="The bundled incident: a CopilotKit-style chat page (www.localhost) streaming an AG-UI "
        "answer over SSE and a WebSocket from an agent (ai.localhost), both behind Caddy.",
        default_path="/chat.html?sse=finish&ws=finish",
        options={
            "stream_timeout": 0.0,  # Caddy's stream_timeout on the ai site, seconds (0: not set)
            "stream_close_delay": 0.0,  # Caddy's stream_close_delay on the ai site, seconds (0: not set)
            "ai_down": False,  # the ai site's upstream is a port nothing listens on
            "backend_tap": True,  # record the Caddy -> agent leg too
        },
    ),
    "copilotkit": AppRow(
        launcher="tearline.runs.copilotkit_app:launch_copilotkit",
        summary="The real stack (make app): a Next.js + CopilotKit chat (app.localhost) whose runtime streams "
        "a LangGraph agent's answer (ai.localhost) over AG-UI SSE, both behind Caddy; needs Node and npm.",
        default_path="/",
        options={
            "tokens": 200,  # the agent's answer, in words ...
            "interval": 0.05,  # ... one every this many seconds
            "backend_tap": True,  # record the Caddy -> agent leg too
        },
    ),
}
