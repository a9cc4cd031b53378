"""A capture's connections and streams as plain rows (dicts), without pandas.

``conn_rows(cap)`` and ``stream_rows(cap)`` build what ``tearline.analysis.summary.frames``
turns into ``df_connections`` / ``df_streams`` (see there for the columns); ``tearline summary``
uses the rows directly, so it does not pay for importing pandas.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from tearline.capture import Capture
from tearline.events import (
    BodyChunk,
    BodyEnd,
    ConnClose,
    ConnOpen,
    ConnTls,
    FaultFired,
    FlowError,
    HttpRequest,
    HttpResponse,
    SseEvent,
    WsClose,
    WsMessage,
)

__all__ = ["CONNECTION_COLUMNS", "COUNT_COLUMNS", "STREAM_COLUMNS", "conn_rows", "stream_rows"]

# the stream columns that count data events (``StreamTotals`` has the same names)
COUNT_COLUMNS = (
    "client_messages",
    "server_messages",
    "client_bytes",
    "server_bytes",
    "chunks",
    "sse_events",
    "partial_events",
)
CONNECTION_COLUMNS = [
    "conn",
    "leg",
    "client_conn",
    "peer",
    "local",
    "tls_version",
    "alpn",
    "sni",
    "opened",
    "closed",
    "duration_s",
    "by",
    "how",
    "errno",
    "error",
    "bytes_sent",
    "bytes_received",
    "streams",
]
STREAM_COLUMNS = [
    "stream",
    "kind",
    "conn",
    "server_conn",
    "method",
    "url",
    "status",
    "started",
    "response_at",
    "first_data",
    "last_data",
    "ended",
    "lifetime_s",
    *COUNT_COLUMNS,
    "body_complete",
    "body_how",
    "close_code",
    "close_reason",
    "close_frame",
    "answered",
    "answered_by",
    "transport_end",
    "closed_by",
    "error",
    "faults",
    "end",
]


def conn_rows(cap: Capture) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}

    def row(cid: str) -> dict[str, Any]:
        if cid not in rows:
            rows[cid] = dict.fromkeys(CONNECTION_COLUMNS)
            rows[cid]["conn"] = cid
            rows[cid]["streams"] = 0
        return rows[cid]

    for ev in cap.events:
        if ev.conn is None:
            continue
        if isinstance(ev, ConnOpen):
            r = row(ev.conn)
            r.update(
                leg=ev.leg,
                client_conn=ev.client_conn,
                peer=ev.peer,
                local=ev.local,
                opened=ev.ts,
                tls_version=ev.tls_version,
                alpn=ev.alpn,
                sni=ev.sni,
            )
        elif isinstance(ev, ConnTls):
            r = row(ev.conn)
            r.update(leg=r["leg"] or ev.leg, tls_version=ev.tls_version, alpn=ev.alpn, sni=ev.sni)
        elif isinstance(ev, ConnClose):
            r = row(ev.conn)
            r.update(
                leg=r["leg"] or ev.leg,
                closed=ev.ts,
                by=ev.by,
                how=ev.how,
                errno=ev.errno,
                error=ev.error,
                bytes_sent=ev.bytes_sent,
                bytes_received=ev.bytes_received,
            )
        elif isinstance(ev, HttpRequest):
            row(ev.conn)["streams"] += 1
    for r in rows.values():
        if r["opened"] is not None and r["closed"] is not None:
            r["duration_s"] = r["closed"] - r["opened"]
    return rows


def _closed_by_stream(s: dict[str, Any], conns: dict[str, dict[str, Any]]) -> str | None:
    """Who ended a non-WebSocket stream: the earliest peer-initiated end of its two legs."""
    if s["body_complete"]:
        return "server"
    ends = []
    for leg_key, side in (("conn", "client"), ("server_conn", "server")):
        c = conns.get(s[leg_key] or "")
        if c and c["by"] == "peer" and c["closed"] is not None:
            ends.append((c["closed"], side))
    if ends:
        return min(ends)[1]
    if s["faults"]:
        return "proxy"
    if s["body_complete"] is False:
        return "proxy" if s["error"] and "killed" in str(s["error"]).lower() else None
    return None


def _end_text(s: dict[str, Any], conns: dict[str, dict[str, Any]]) -> str:
    if s["kind"] == "ws":
        if s["close_code"] is None and s["ended"] is None:
            return "open (no end recorded)"
        if s["close_frame"]:
            reason = f" {s['close_reason']!r}" if s["close_reason"] else ""
            ans = f", answered by {s['answered_by']}" if s["answered"] else ", unanswered"
            return f"close {s['close_code']}{reason} by {s['closed_by']}{ans}"
        how = s["transport_end"] or "drop"
        return f"no close frame: {s['closed_by'] or 'unknown'} {how}"
    if s["body_complete"] is None:
        return f"error: {s['error']}" if s["error"] else "open (no end recorded)"
    if s["body_complete"]:
        return f"complete ({s['body_how']})"
    who = s["closed_by"] or "unknown"
    leg = s["conn"] if who == "client" else s["server_conn"]
    how = (conns.get(leg or "") or {}).get("how") or ""
    partial = f", {s['partial_events']} partial event" if s["partial_events"] else ""
    return f"cut by {who}{(' ' + how) if how else ''}{partial}"


def stream_rows(cap: Capture, *, kinds: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
    """One dict per HTTP flow (keys ``STREAM_COLUMNS``), by start time; ``kinds`` keeps only those kinds."""
    conns = conn_rows(cap)
    streams: dict[str, dict[str, Any]] = {}
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))

    def row(sid: str) -> dict[str, Any]:
        if sid not in streams:
            r = dict.fromkeys(STREAM_COLUMNS)
            r.update(stream=sid, kind="http", faults=0, close_frame=None)
            streams[sid] = r
        return streams[sid]

    for sid, t in (cap.totals or {}).items():  # read with totals=True: the data events, added up
        r = row(sid)
        r.update(first_data=t.first_data, last_data=t.last_data)
        c = counts[sid]
        for k in COUNT_COLUMNS:
            c[k] += getattr(t, k)

    def data_at(r: dict[str, Any], ts: float) -> None:
        if r["first_data"] is None:
            r["first_data"] = ts
        r["last_data"] = ts

    for ev in cap.events:
        if ev.stream is None:
            continue
        r = row(ev.stream)
        c = counts[ev.stream]
        if isinstance(ev, HttpRequest):
            r.update(conn=ev.conn, server_conn=ev.server_conn, method=ev.method, url=ev.url, started=ev.ts)
        elif isinstance(ev, HttpResponse):
            r.update(status=ev.status, kind=ev.kind, response_at=ev.ts)
        elif isinstance(ev, WsMessage):
            c[f"{ev.direction}_messages"] += 1
            c[f"{ev.direction}_bytes"] += ev.size
            data_at(r, ev.ts)
        elif isinstance(ev, BodyChunk):
            c["chunks"] += 1
            c[f"{ev.direction}_bytes"] += ev.size
            data_at(r, ev.ts)
        elif isinstance(ev, SseEvent):
            if ev.partial:
                c["partial_events"] += 1
            else:
                c["sse_events"] += 1
        elif isinstance(ev, BodyEnd):
            r.update(body_complete=ev.complete, body_how=ev.how, ended=ev.ts)
            if not c["chunks"] and ev.total_bytes:
                c[f"{ev.direction}_bytes"] += ev.total_bytes
                c["chunks"] += ev.chunks
        elif isinstance(ev, WsClose):
            r.update(
                kind="ws",
                close_code=ev.code,
                close_reason=ev.reason,
                close_frame=ev.frame,
                answered=ev.answered,
                answered_by=ev.answered_by,
                transport_end=ev.transport_end,
                closed_by=ev.closed_by,
                ended=ev.ts,
            )
        elif isinstance(ev, FlowError):
            r["error"] = ev.message
            if r["ended"] is None:
                r["ended"] = ev.ts
        elif isinstance(ev, FaultFired):
            r["faults"] += 1
    # the server leg by client_conn, for requests whose recorded server_conn never opened
    # (upstream mode: mitmproxy's flow.server_conn is a virtual connection)
    by_client: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for cid, cr in conns.items():
        if cr["leg"] == "server" and cr["client_conn"] and cr["opened"] is not None:
            by_client[cr["client_conn"]].append((cr["opened"], cid))
    for r in streams.values():
        if r["conn"] and (r["server_conn"] not in conns or conns[r["server_conn"]]["opened"] is None):
            t = r["response_at"] if r["response_at"] is not None else r["started"]
            cands = [cid for opened, cid in sorted(by_client.get(r["conn"], [])) if t is None or opened <= t]
            if cands:
                r["server_conn"] = cands[-1]
    for sid, r in streams.items():
        c = counts[sid]
        for k in COUNT_COLUMNS:
            r[k] = c.get(k, 0)
        if r["kind"] == "sse":
            r["server_messages"] = r["sse_events"]
        if r["kind"] != "ws":
            r["closed_by"] = _closed_by_stream(r, conns)
        if r["started"] is not None and r["ended"] is not None:
            r["lifetime_s"] = r["ended"] - r["started"]
        r["end"] = _end_text(r, conns)
    rows = sorted(streams.values(), key=lambda r: (r["started"] is None, r["started"] or 0.0))
    if kinds is not None:
        rows = [r for r in rows if r["kind"] in kinds]
    return rows
