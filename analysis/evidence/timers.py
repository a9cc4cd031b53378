"""Timers that can end a stream: what each counts from, its default value, and where that value is written.

A ``Timer`` is one deadline an intermediary (or the browser) keeps: its name, its value in seconds, the
*clock* it counts from, and how tearline learned it (``inferred_from``). The diagnosis
(``tearline.analysis.diagnose.rules_timer``) measures each stream's end on every clock and names the
timer whose value it matches.

Clocks (``CLOCKS``):

==================  =====================================================================================
``open``            from the stream's open (request sent / upgrade) to its end: a total-lifetime deadline
``idle``            from the last data in either direction: an idle (inactivity) deadline
``server_idle``     from the last data the server sent: a read deadline toward the upstream
``client_idle``     from the last data the browser sent: a write deadline toward the upstream
``awaiting_headers`` from the open, while no response headers had arrived
``reload``          from a proxy reload (Caddy ``stream_close_delay``)
``between_requests`` keep-alive idle between requests on one connection: ends a connection, never a stream
==================  =====================================================================================

``DEFAULT_TIMERS`` lists the defaults tearline knows, each with its documented source. Values a run
configured (``--caddy-config``, a capture's recorded options) come first; a default is only a guess.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CLOCKS", "DEFAULT_TIMERS", "INFERENCE", "Timer"]

CLOCKS: dict[str, str] = {
    "open": "from the stream's open",
    "idle": "from the last data in either direction",
    "server_idle": "from the last data the server sent",
    "client_idle": "from the last data the browser sent",
    "awaiting_headers": "from the open, while no response headers had arrived",
    "reload": "from the proxy's reload",
    "between_requests": "idle between requests on one connection (ends a connection, not a stream)",
}
# how a timer's value was learned -> confidence of a cause that names it from timing alone. Each beats
# the browser's bare view of a cut (0.7-0.74: the timer is why it was cut) and loses to a proxy's own account
# of a failure (0.84 and up).
INFERENCE: dict[str, float] = {
    "config": 0.88,  # the proxy's own configuration (--caddy-config)
    "recorded option": 0.8,  # a value the recorder wrote into its capture header
    "known default": 0.76,  # a documented default of a common intermediary
    "repeats": 0.75,  # the same duration ended several streams of this run
}


@dataclass(frozen=True, kw_only=True, slots=True)
class Timer:
    """One deadline that can end a stream."""

    name: str  # e.g. "Caddy reverse_proxy transport read_timeout"
    seconds: float
    clock: str  # one of CLOCKS
    inferred_from: str  # one of INFERENCE
    source: str = ""  # where the value is written: a config file and place, a documentation page
    route: tuple[str, ...] = ()  # path patterns it applies to (Caddy route matchers); () = every path
    ports: tuple[int, ...] = ()  # listener ports it applies to; () = every port
    actor: str = "proxy"
    leg: str = "client"  # the connection it ends: "client" (the browser's side), "upstream" (the proxy's own)

    def __post_init__(self) -> None:
        assert self.clock in CLOCKS, self.clock
        assert self.inferred_from in INFERENCE, self.inferred_from


def _default(
    name: str, seconds: float, clock: str, source: str, actor: str = "proxy", leg: str = "client"
) -> Timer:
    return Timer(
        name=name,
        seconds=seconds,
        clock=clock,
        inferred_from="known default",
        source=source,
        actor=actor,
        leg=leg,
    )


# Documented defaults. Deadlines that only bound the wait before a response (a stream that never opened)
# or idle keep-alive connections are listed for completeness with their clock; the matcher uses the clock.
DEFAULT_TIMERS: tuple[Timer, ...] = (
    _default(
        "nginx proxy_read_timeout (default)",
        60.0,
        "server_idle",
        "https://nginx.org/en/docs/http/ngx_http_proxy_module.html#proxy_read_timeout",
    ),
    _default(
        "nginx proxy_send_timeout (default)",
        60.0,
        "client_idle",
        "https://nginx.org/en/docs/http/ngx_http_proxy_module.html#proxy_send_timeout",
    ),
    _default(
        "AWS ALB idle timeout (default)",
        60.0,
        "idle",
        "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/application-load-balancers.html"
        "#connection-idle-timeout",
    ),
    _default(
        "Cloudflare proxy read timeout (HTTP 524)",
        100.0,
        "server_idle",
        "https://developers.cloudflare.com/support/troubleshooting/http-status-codes/cloudflare-5xx-errors/error-524/",
    ),
    _default(
        "Google Cloud load balancer backend service timeout (default; a WebSocket's whole lifetime)",
        30.0,
        "open",
        "https://cloud.google.com/load-balancing/docs/backend-service#timeout-setting",
    ),
    _default(
        "Heroku router rolling idle window",
        55.0,
        "server_idle",
        "https://devcenter.heroku.com/articles/request-timeout",
    ),
    _default(
        "Caddy server idle_timeout (default 5m)",
        300.0,
        "between_requests",
        "https://caddyserver.com/docs/json/apps/http/servers/idle_timeout/",
    ),
    _default(
        "Caddy reverse_proxy transport dial_timeout (default 3s)",
        3.0,
        "awaiting_headers",
        "https://caddyserver.com/docs/json/apps/http/servers/routes/handle/reverse_proxy/transport/http/dial_timeout/",
    ),
    _default(
        "Caddy reverse_proxy keep_alive idle_timeout (default 2m)",
        120.0,
        "between_requests",
        "https://caddyserver.com/docs/json/apps/http/servers/routes/handle/reverse_proxy/transport/http/keep_alive/idle_timeout/",
        leg="upstream",
    ),
    _default(
        "Chrome used idle socket timeout (5 min)",
        300.0,
        "between_requests",
        "https://source.chromium.org/chromium/chromium/src/+/main:net/socket/client_socket_pool.cc (kUsedIdleSocketTimeout)",
        actor="browser",
    ),
    _default(
        "Chrome unused idle socket timeout (60 s)",
        60.0,
        "between_requests",
        "https://source.chromium.org/chromium/chromium/src/+/main:net/socket/client_socket_pool_manager.cc"
        " (unused_idle_socket_timeout: kPreconnectIntervalSec = 60; 10 s before 2021)",
        actor="browser",
    ),
    _default(
        "mitmproxy tcp_timeout (default 600 s)",
        600.0,
        "idle",
        "https://docs.mitmproxy.org/stable/concepts-options/ (tcp_timeout)",
    ),
)
