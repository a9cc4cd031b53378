"""``tearline summary CAPTURE [--json] [--all]``: one line per stream of a capture.

Text: kind, URL, lifetime, messages (or SSE events) and bytes each way, how it ended.

``--json`` prints one object::

    {"capture": "out.jsonl", "complete": true, "warnings": [],
     "streams": [{"id": "<flow id>", "kind": "ws", "url": "...", "status": 101,
                  "started": 1795656131.3, "ended": 1795656131.4, "lifetime_s": 0.03,
                  "client_messages": 1, "server_messages": 3,
                  "client_bytes": 5, "server_bytes": 48,
                  "close_code": 4000, "close_reason": "bye", "close_frame": true,
                  "closed_by": "server", "transport_end": null,
                  "body_complete": null, "partial_events": 0, "error": null,
                  "end": "close 4000 'bye' by server, answered by proxy"}]}

Each stream also gets ``proxy_cost``: what the recorder measured of the proxy's own delay on
its client connection (``{"messages", "forwarded", "delay_p50_ms", "delay_p99_ms",
"delay_max_ms", "hook_p50_ms", "hook_p99_ms", "hook_max_ms"}``, docs/capture-format.md), null
for captures recorded before it was measured or a connection still open; the top-level
``proxy_cost`` is the whole capture's (from the footer).

``kind`` is ``ws``, ``sse`` or ``http-stream`` (``http`` too with ``--all``);
SSE events count as ``server_messages``; ``close_code`` is the WebSocket close
code (1006 when no close frame was seen) or null; ``closed_by`` is ``client``,
``server``, ``proxy`` or null. Times are epoch seconds, durations seconds.
"""

from __future__ import annotations

import json
import math
from typing import Any

import click
from tearline.analysis.summary.rows import stream_rows

from tearline.capture import Capture, read_capture
from tearline.events import CaptureEnd, ConnClose

__all__ = ["summarize", "summary_command"]

STREAM_KINDS = ("ws", "sse", "http-stream")

_FIELDS = {
    "id": "stream",
    "kind": "kind",
    "url": "url",
    "status": "status",
    "started": "started",
    "ended": "ended",
    "lifetime_s": "lifetime_s",
    "client_messages": "client_messages",
    "server_messages": "server_messages",
    "client_bytes": "client_bytes",
    "server_bytes": "server_bytes",
    "close_code": "close_code",
    "close_reason": "close_reason",
    "close_frame": "close_frame",
    "closed_by": "closed_by",
    "transport_end": "transport_end",
    "body_complete": "body_complete",
    "partial_events": "partial_events",
    "error": "error",
    "end": "end",
}
_INTS = {
    "status",
    "client_messages",
    "server_messages",
    "client_bytes",
    "server_bytes",
    "close_code",
    "partial_events",
}


def _clean(name: str, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if name in _INTS:
        return int(value)
    if hasattr(value, "item"):  # numpy scalar
        return value.item()
    return value


def summarize(path: str, *, all_kinds: bool = False) -> dict[str, Any]:
    """The ``--json`` object for a capture file."""
    cap = read_capture(path, totals=True)  # only the sums of the data events are needed
    rows = stream_rows(cap, kinds=None if all_kinds else STREAM_KINDS)  # plain rows: no pandas to import
    streams = [{k: _clean(k, rec[col]) for k, col in _FIELDS.items()} for rec in rows]
    by_conn, total = proxy_costs(cap)
    for s, rec in zip(streams, rows, strict=True):
        s["proxy_cost"] = by_conn.get(rec["conn"])
    return {
        "capture": str(path),
        "complete": cap.complete,
        "warnings": list(cap.warnings),
        "proxy_cost": total,
        "streams": streams,
    }


def proxy_costs(cap: Capture) -> tuple[dict[str, dict[str, Any]], dict[str, Any] | None]:
    """The recorder's ``proxy_cost`` figures per client connection, and the footer's (or None)."""
    by_conn: dict[str, dict[str, Any]] = {}
    total = None
    for ev in cap.events:
        if type(ev) is ConnClose and ev.proxy_cost and ev.conn:
            by_conn[ev.conn] = ev.proxy_cost
        elif type(ev) is CaptureEnd and ev.proxy_cost:
            total = ev.proxy_cost
    return by_conn, total


def cost_text(cost: dict[str, Any] | None) -> str:
    """``proxy +p99 0.41 ms (max 2.3 ms)``: the proxy's own delay per message, or ""."""
    if not cost or "delay_p99_ms" not in cost or not cost.get("forwarded", 1):
        return ""
    return f"proxy +p99 {cost['delay_p99_ms']:g} ms (max {cost.get('delay_max_ms', 0):g} ms)"


def _fmt_line(s: dict[str, Any]) -> str:
    life = f"{s['lifetime_s']:.2f}s" if s["lifetime_s"] is not None else "?"
    unit = "ev" if s["kind"] == "sse" else "msg"
    if s["kind"] == "ws":
        counts = f"c→s {s['client_messages']} {unit} {s['client_bytes']}B  s→c {s['server_messages']} {unit} {s['server_bytes']}B"
    elif s["kind"] == "sse":
        counts = f"s→c {s['server_messages']} {unit} {s['server_bytes']}B"
    else:
        counts = f"s→c {s['server_bytes']}B"
    url = (s["url"] or "?").replace("\n", " ")
    cost = cost_text(s.get("proxy_cost"))
    return f"{s['kind']:<11} {url}  {life}  {counts}  {s['end']}" + (f"  [{cost}]" if cost else "")


@click.command("summary")
@click.argument("capture", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object with a 'streams' list.")
@click.option("--all", "all_kinds", is_flag=True, help="Also list ordinary (non-streamed) HTTP requests.")
def summary_command(capture: str, as_json: bool, all_kinds: bool) -> None:
    """One line per stream of a capture: kind, URL, lifetime, messages each way, how it ended."""
    data = summarize(capture, all_kinds=all_kinds)
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    for w in data["warnings"]:
        click.echo(f"warning: {w}", err=True)
    if not data["streams"]:
        click.echo("no streams recorded" + ("" if all_kinds else " (--all lists ordinary requests too)"))
        return
    for s in data["streams"]:
        click.echo(_fmt_line(s))
