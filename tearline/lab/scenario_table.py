"""The scenario table: one row per way a stream ends, and what the lab does mid-stream for it.

Each ``Scenario`` says which streams the incident page opens (``sse``, ``ws``)
with which end behaviour of the agent (``backend.py``), any more page
parameters, what happens mid-stream (``act``: click away, reload Caddy, crash
the renderer, or just wait), Caddy options of the ai site, and the cause kind
and actor a diagnosis should name. ``tearline.lab.scenarios.record_scenario``
runs a row. Times: the agent sends a delta every 100 ms.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from tearline.lab.browser import LiveBrowser
from tearline.lab.caddy import Caddy

__all__ = ["SCENARIOS", "Run", "Scenario", "wait_deltas", "wait_ends"]


@dataclass(kw_only=True)
class Run:
    """The live set-up handed to a scenario's ``act``."""

    browser: LiveBrowser
    caddy: Caddy | None
    streams: tuple[str, ...]  # which streams the page opened: "sse", "ws"


def wait_ends(run: Run, timeout: float = 30.0) -> None:
    """Wait until every stream the page opened has ended (the page logs "sse done/failed", "ws closed")."""
    if "sse" in run.streams:
        run.browser.wait_for_console(("sse done", "sse failed"), timeout=timeout)
    if "ws" in run.streams:
        run.browser.wait_for_console("ws closed", timeout=timeout)


def wait_deltas(run: Run, n: int = 5, timeout: float = 30.0) -> None:
    """Wait until every open stream has delivered ``n`` text deltas to the page."""
    for kind in run.streams:
        run.browser.wait_for_console(f"{kind} delta #{n}", timeout=timeout)


def act_click_away(run: Run) -> None:
    """The incident: mid-prediction, the user clicks a link to another page of the app."""
    wait_deltas(run)
    run.browser.page.click("#away")
    run.browser.wait_for_console("docs page loaded")
    run.browser.pump(1.0)


def act_reload_caddy(run: Run) -> None:
    """Mid-stream, Caddy's config is reloaded through its admin API."""
    wait_deltas(run)
    assert run.caddy is not None
    run.caddy.reload()
    wait_ends(run)
    # Caddy keeps running after the close, as a user's does: its own stop at the end of the recording must
    # not fall within the 2 s in which the diagnosis ties a proxy reload to a 1001 close
    run.browser.pump(2.5)


def act_crash_renderer(run: Run) -> None:
    """Mid-stream, the page's renderer dies of SIGSEGV: Chrome's "Can't open this page, Error code: 11"."""
    wait_deltas(run)
    run.browser.crash_renderers()
    run.browser.wait_for_console("[crash]")
    run.browser.pump(1.0)


@dataclass(frozen=True, kw_only=True, slots=True)
class Scenario:
    """One row of the table: what the page streams, what happens mid-stream, what it should be diagnosed as."""

    name: str
    summary: str
    expected_kind: str  # a CAUSE_KINDS name
    expected_actor: str  # an ACTORS name
    streams: dict[str, str]  # "sse" / "ws" -> the back end's end behaviour (see backend.py)
    page: dict[str, str] = field(default_factory=dict)  # more chat.html query parameters (deltas, after, ...)
    act: Callable[[Run], None] = wait_ends
    ai_site: dict[str, float] = field(default_factory=dict)  # CaddySite options for the ai site
    ai_down: bool = False  # the ai upstream is a port nothing listens on
    fault: str | None = None  # TOML for addons/faults.py on the browser leg
    without_caddy: Scenario | None = None  # the variant used when caddy=False (None: same row)
    needs_caddy: bool = False
    trace_payload: str | None = None  # the recorder's trace_payload option (e.g. "preview:512"), None: none
    browser_leg: dict[str, object] = field(default_factory=dict)  # more options of the browser-leg mitmdump
    both_legs: dict[str, object] = field(default_factory=dict)  # more options of both mitmdumps
    tls_only: str | None = None  # why the row needs HTTPS (HTTP/2) to the browser; None: any protocol


_LONG = {"deltas": "100"}  # ~10 s of deltas: still streaming when something happens mid-stream
_EARLY = {"after": "5"}  # the end behaviour applies after 5 deltas (~0.7 s)

_INJECTED_FAULT_TOML = """\
# Close the browser's WebSocket with 4001 after the server's fifth message.
[[fault]]
action = "close"
stream = "ws"
direction = "server"
after_messages = 5
to = "client"
code = 4001
reason = "tearline injected fault"
"""

SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            name="clean_close",
            summary="The agent finishes its run: RUN_FINISHED and the terminating chunk; the WebSocket closes with 1000.",
            expected_kind="clean_close",
            expected_actor="server",
            streams={"sse": "finish", "ws": "finish"},
            page={"deltas": "10"},
        ),
        Scenario(
            name="client_navigation",
            summary="The incident: the user clicks a link to another page while the answer is still streaming.",
            expected_kind="client_navigation",
            expected_actor="browser",
            streams={"sse": "finish", "ws": "finish"},
            page=_LONG,
            act=act_click_away,
        ),
        Scenario(
            name="renderer_crash",
            summary="The sad tab: mid-answer the page's renderer dies of SIGSEGV (Chrome's \"Error code: 11\"); "
            "the browser tears its streams down as if the page had navigated away.",
            expected_kind="client_navigation",
            expected_actor="browser",
            streams={"sse": "finish", "ws": "finish"},
            page=_LONG,
            act=act_crash_renderer,
        ),
        Scenario(
            name="client_app_close",
            summary="The user presses Stop: the page aborts its fetch and closes its WebSocket (1000) and stays.",
            expected_kind="client_app_close",
            expected_actor="page",
            streams={"sse": "finish", "ws": "finish"},
            page={**_LONG, "stop_after": "5"},
        ),
        Scenario(
            name="server_going_away",
            summary="Caddy's config is reloaded mid-stream; it closes the upgraded WebSocket with 1001.",
            expected_kind="server_going_away",
            expected_actor="proxy",
            streams={"ws": "finish"},
            page=_LONG,
            act=act_reload_caddy,
            without_caddy=Scenario(
                name="server_going_away",
                summary="The agent restarts mid-stream and closes its WebSocket with 1001.",
                expected_kind="server_going_away",
                expected_actor="server",
                streams={"ws": "going_away"},
                page={**_LONG, **_EARLY},
            ),
        ),
        Scenario(
            name="stream_close_delay",
            summary="Caddy's config is reloaded mid-stream with stream_close_delay 3s on the ai route: the "
            "WebSocket is closed 3 s after the reload.",
            expected_kind="server_going_away",
            expected_actor="proxy",
            streams={"ws": "finish"},
            page=_LONG,
            act=act_reload_caddy,
            ai_site={"stream_close_delay": 3.0},
            needs_caddy=True,
        ),
        Scenario(
            name="server_abrupt_close",
            summary="The agent drops its connections mid-stream: the SSE body without its terminating chunk, "
            "the WebSocket without a close frame.",
            expected_kind="server_abrupt_close",
            expected_actor="server",
            streams={"sse": "cut", "ws": "cut"},
            page={**_LONG, **_EARLY},
        ),
        Scenario(
            name="connection_reset",
            summary="The agent's connections are reset (TCP RST) mid-stream.",
            expected_kind="connection_reset",
            expected_actor="server",
            streams={"sse": "reset", "ws": "reset"},
            page={**_LONG, **_EARLY},
        ),
        Scenario(
            name="proxy_timeout",
            summary="Caddy's stream_timeout (2 s) on the ai route ends the WebSocket while the agent still streams.",
            expected_kind="proxy_timeout",
            expected_actor="proxy",
            streams={"ws": "finish"},
            page=_LONG,
            ai_site={"stream_timeout": 2.0},
            needs_caddy=True,
        ),
        Scenario(
            name="proxy_read_timeout",
            summary="The agent goes silent mid-stream and keeps its connections open; Caddy's reverse_proxy "
            "transport read_timeout (2 s) ends the streams.",
            expected_kind="proxy_timeout",
            expected_actor="proxy",
            streams={"sse": "stall", "ws": "stall"},
            page={**_LONG, **_EARLY},
            ai_site={"read_timeout": 2.0},
            needs_caddy=True,
        ),
        Scenario(
            name="server_write_timeout",
            summary="Caddy's server write timeout (3 s) cuts the long SSE answer while the agent still streams.",
            expected_kind="proxy_timeout",
            expected_actor="proxy",
            streams={"sse": "finish"},
            page=_LONG,
            ai_site={"write_timeout": 3.0},
            needs_caddy=True,
        ),
        Scenario(
            name="server_read_timeout",
            summary="The page streams its request body (fetch with a ReadableStream, duplex half): the JSON, "
            "1 s later a space, then 10 s of silence; Caddy's server read timeout (2 s, timeouts read_body, "
            "counted from the request's start) ends the request while its body is still being uploaded.",
            expected_kind="proxy_timeout",
            expected_actor="proxy",
            streams={"sse": "finish"},
            page={**_LONG, "upload_gap_ms": "1000", "upload_pause_ms": "10000"},
            ai_site={"server_read_timeout": 2.0},
            needs_caddy=True,
            # both mitmdumps pass the upload on as it arrives (mitmproxy buffers request bodies otherwise)
            both_legs={"stream_large_bodies": "64"},
            tls_only="Chromium streams a request body over HTTP/2 only (HTTP/1.1: ERR_H2_OR_QUIC_REQUIRED)",
        ),
        Scenario(
            name="proxy_idle_timeout",
            summary="The agent goes silent and keeps both streams open; the page waits. The browser-leg "
            "mitmdump's idle timer (tcp_timeout 2 s) closes the idle connections.",
            expected_kind="proxy_timeout",
            expected_actor="proxy",
            streams={"sse": "stall", "ws": "stall"},
            page={**_LONG, **_EARLY},
            browser_leg={"tcp_timeout": 2},
        ),
        Scenario(
            name="upstream_unavailable",
            summary="The agent is down: Caddy answers the stream request and the WebSocket upgrade with 502.",
            expected_kind="upstream_unavailable",
            expected_actor="server",
            streams={"sse": "finish", "ws": "finish"},
            ai_down=True,
            without_caddy=Scenario(
                name="upstream_unavailable",
                summary="The agent is down: nothing accepts the browser's connections to the ai origin.",
                expected_kind="upstream_unavailable",
                expected_actor="proxy",
                streams={"sse": "finish", "ws": "finish"},
                ai_down=True,
            ),
        ),
        Scenario(
            name="protocol_error",
            summary="The agent breaks the protocol mid-stream: invalid chunk framing on the SSE body, "
            "a frame with a reserved opcode on the WebSocket.",
            expected_kind="protocol_error",
            expected_actor="server",
            streams={"sse": "garbage", "ws": "garbage"},
            page={**_LONG, **_EARLY},
        ),
        Scenario(
            name="in_band_error",
            summary="The agent's run fails: it sends AG-UI RUN_ERROR and then ends the SSE body properly, as "
            "CopilotKit's runtime does; the recorder keeps payload previews to read the event's type.",
            expected_kind="in_band_error",
            expected_actor="server",
            streams={"sse": "run_error"},
            page={**_LONG, **_EARLY},
            trace_payload="preview:512",
        ),
        Scenario(
            name="stall",
            summary="The agent stops sending mid-stream but keeps both streams open; the page gives up after 2 s.",
            expected_kind="stall",
            expected_actor="server",
            streams={"sse": "stall", "ws": "stall"},
            page={**_LONG, **_EARLY, "give_up_ms": "2000"},
        ),
        Scenario(
            name="injected_fault",
            summary="tearline's fault addon closes the browser's WebSocket with 4001 after five server messages.",
            expected_kind="injected_fault",
            expected_actor="tearline",
            streams={"ws": "finish"},
            page=_LONG,
            fault=_INJECTED_FAULT_TOML,
        ),
    )
}
