"""Idle keep-alive connections seen by a recorder on a proxy leg: who closed a connection between
requests, after how long idle, and which keep-alive timer fits.

``idle_connection_notes`` (``rules_timer.py``) reads the NetLog's view; this module adds a capture's
(``source`` ``capture``, ``socket_closed`` from a ``conn_close``):

* ``upstream_keepalive_notes``: a connection that carried requests and was closed by its *client* (the
  ``client`` leg, ``by`` ``peer``) while idle, on the leg between a proxy and its upstream: the proxy's
  own keep-alive toward the upstream (Caddy's ``reverse_proxy`` ``keep_alive`` ``idle_timeout``). Go's
  transport closes an idle connection exactly when its timer fires, so the idle time (from the end of
  the connection's last response, ``request_done``) must equal the timer. Only timers of the
  ``upstream`` leg are matched: the browser's connections are never closed by it.
* ``tap_saw_browser_close``: how many connections that never carried a request a recorder between the
  browser and the proxy saw the browser close (``by`` ``peer`` on the ``client`` leg) near the times the
  NetLog says Chrome closed idle sockets itself: who closed is who closed.

Such closes end a connection between requests, never a stream: they are notes, not causes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from tearline.analysis.evidence.observation import Observation
from tearline.analysis.evidence.timers import Timer

__all__ = ["TAP_WINDOW", "tap_saw_browser_close", "upstream_keepalive_notes"]

TAP_WINDOW = 2.0  # seconds between the NetLog's close and the recorder's (two clocks, one machine)
_SOURCES = ("config", "recorded option", "known default")


def _tolerance(value: float) -> float:
    return max(0.3, 0.02 * value)


def upstream_keepalive_notes(
    closes: Iterable[Observation], done_at: dict[str, float], timers: Sequence[Timer]
) -> list[str]:
    """Notes on a proxy closing its idle connections to the upstream. ``closes``: capture
    ``socket_closed`` observations; ``done_at``: stream key -> when its response ended (capture)."""
    upstream = [t for t in timers if t.clock == "between_requests" and t.leg == "upstream"]
    found: dict[Timer, list[float]] = {}
    for o in closes:
        if o.leg != "client" or o.by != "peer" or o.how != "fin" or o.stream_key not in done_at:
            continue
        idle = o.t - done_at[o.stream_key or ""]
        fits = [t for t in upstream if idle >= 0 and abs(idle - t.seconds) <= _tolerance(t.seconds)]
        for source in _SOURCES:
            best = [t for t in fits if t.inferred_from == source]
            if best:
                found.setdefault(min(best, key=lambda t: abs(idle - t.seconds)), []).append(idle)
                break
    notes: list[str] = []
    for timer, idles in sorted(found.items(), key=lambda kv: kv[0].name):
        where = f": {timer.source}" if timer.source and timer.inferred_from == "config" else ""
        notes.append(
            f"The proxy closed {len(idles)} idle keep-alive connection(s) to its upstream "
            f"{max(idles):.2f} s after their last response ({', '.join(f'{i:.2f}' for i in sorted(idles))} s): "
            f"{timer.name} ({timer.seconds:g} s, {timer.inferred_from}{where}) fits; seen by the recorder "
            "between the proxy and the upstream: between requests, no stream was open on them."
        )
    return notes


def tap_saw_browser_close(own_closes: Sequence[float], unused_tap_closes: Sequence[float]) -> int:
    """How many of the recorder's closes by the browser of connections that carried no request fall within
    ``TAP_WINDOW`` of a time the NetLog says Chrome closed an idle socket itself."""
    return sum(1 for t in unused_tap_closes if any(abs(t - c) <= TAP_WINDOW for c in own_closes))
