"""Hand-made diagnoses for the report and plot tests (engineer 7's tests only).

``incident()`` models the motivating incident: a WebSocket (s1) that closed
cleanly, and an SSE stream (s2) recorded on both legs that the page cancelled
by navigating away, with a Caddy abort, a console error and a renderer crash.
Hostile strings (markup, mathtext, secrets) are planted in URLs, timeline
text and evidence, so every consumer is also a safety test.

``big_timeline(n)`` is a timeline of ``n`` message rows over a few streams.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from tearline.analysis.diagnose.model import Cause, Diagnosis, Evidence, SourceSummary, StreamDiagnosis

T0 = 1_790_000_000.0  # 2026-09-21 14:13:20 UTC
SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
MATH = r"$\frac{1}{0}$ $x^"  # would break matplotlib's mathtext if parsed


def _row(
    t: float, source: str, stream: str | None, leg: str | None, kind: str, **kw: object
) -> dict[str, object]:
    row: dict[str, object] = {
        "t": T0 + t,
        "source": source,
        "stream": stream,
        "leg": leg,
        "kind": kind,
        "direction": None,
        "size": np.nan,
        "code": np.nan,
        "text": None,
    }
    row.update(kw)
    return row


def incident_timeline() -> pd.DataFrame:
    rows = [
        _row(0.10, "netlog", "s1", None, "ws_handshake_request"),
        _row(0.15, "netlog", "s1", None, "ws_open"),
    ]
    for i in range(30):
        rows.append(
            _row(0.2 + i * 0.1, "netlog", "s1", None, "ws_frame_received", direction="server", size=40.0)
        )
        rows.append(
            _row(0.25 + i * 0.1, "capture", "s1", "client", "ws_frame_sent", direction="client", size=20.0)
        )
        rows.append(_row(0.20 + i * 0.1, "capture", "s1", "client", "ws_frame_received", direction="server"))
        rows.append(_row(0.19 + i * 0.1, "capture", "s1", "server", "ws_frame_received", direction="server"))
    rows.append(_row(3.3, "netlog", "s1", None, "ws_closed", code=1000.0, text="clean"))
    rows.append(_row(1.0, "cdp", "s2", None, "request_start", text="POST"))
    rows.append(_row(1.2, "cdp", "s2", None, "response_headers"))
    for i in range(60):
        rows.append(_row(1.30 + i * 0.05, "cdp", "s2", None, "data_received", direction="server", size=120.0))
        rows.append(_row(1.29 + i * 0.05, "capture", "s2", "client", "data_received", direction="server"))
        rows.append(_row(1.28 + i * 0.05, "capture", "s2", "server", "data_received", direction="server"))
    rows += [
        _row(2.0, "capture", "s2", None, "fault", text="stall 2s"),
        _row(5.20, "cdp", None, None, "navigation", text="http://app.localhost/other?token=SECRET1"),
        _row(5.21, "cdp", "s2", None, "request_cancelled", text="net::ERR_ABORTED"),
        _row(5.22, "caddy", "s2", None, "proxy_abort", text=f"aborting with incomplete response {SCRIPT}"),
        _row(5.23, "caddy", "s2", None, "access", text="200 POST /api/copilotkit"),
        _row(5.25, "console", None, None, "console", text=f"Uncaught TypeError {MATH} {IMG}"),
        _row(5.60, "netlog", None, None, "page_crash", text="renderer crashed, Error code: 11"),
        _row(0.05, "netlog", None, None, "request_failed", text="ERR_NAME_NOT_RESOLVED"),  # noise
        _row(
            0.06, "netlog", None, None, "data_received", direction="server", size=10.0
        ),  # an ordinary request
    ]
    return pd.DataFrame(rows)


def incident() -> Diagnosis:
    ev = (
        Evidence(
            source="netlog", t=T0 + 5.2, text="URL_REQUEST main frame to /other started", where="event 812"
        ),
        Evidence(
            source="cdp", t=T0 + 5.21, text="loadingFailed net::ERR_ABORTED canceled=true", where="line 44"
        ),
        Evidence(
            source="caddy", t=T0 + 5.22, text=f"aborting with incomplete response {IMG}", where="line 7"
        ),
    )
    s1 = StreamDiagnosis(
        id="s1",
        url="ws://app.localhost/ws?token=SECRET2&room=1",
        kind="ws",
        opened_at=T0 + 0.1,
        ended_at=T0 + 3.3,
        cause=Cause(
            kind="clean_close",
            actor="server",
            summary="The server closed with 1000 (normal).",
            confidence=0.95,
        ),
        sources=("netlog", "capture"),
        stats={"messages_server": 30, "bytes_server": 1200, "messages_client": 30, "bytes_client": 600},
    )
    s2 = StreamDiagnosis(
        id="s2",
        url=f"http://api.localhost/api/copilotkit?q={SCRIPT}",
        kind="sse",
        opened_at=T0 + 1.0,
        ended_at=T0 + 5.21,
        cause=Cause(
            kind="client_navigation",
            actor="page",
            summary="The page navigated to /other while the response was still streaming, so Chrome cancelled it.",
            confidence=0.85,
            evidence=ev,
            rule="navigation_cancel",
        ),
        alternatives=(
            Cause(
                kind="server_abrupt_close",
                actor="proxy",
                summary=f"Caddy aborted the response {SCRIPT}.",
                confidence=0.2,
            ),
        ),
        abnormal=True,
        sources=("cdp", "caddy", "capture"),
        stats={
            "messages_server": 60,
            "bytes_server": 7200,
            "ends": {"cdp": "cancelled (ERR_ABORTED)", "caddy": IMG},
        },
    )
    sources = [
        SourceSummary(
            name="netlog", path="/tmp/netlog.json", observations=100, clock="netlog timeTickOffset", offset=0.0,
            residual_skew=0.002,
        ),
        SourceSummary(
            name="caddy", path=f"/tmp/{SCRIPT}.log", observations=2, clock="wall", offset=-0.013, residual_skew=None,
            warnings=("1 line unparsable",),
        ),
    ]  # fmt: skip
    return Diagnosis(streams=[s1, s2], sources=sources, timeline=incident_timeline(), notes=[f"note {IMG}"])


def big_timeline(n: int, streams: int = 4, seed: int = 1) -> pd.DataFrame:
    """``n`` message rows over ``streams`` streams and both legs, ten minutes long."""
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(T0, T0 + 600.0, n))
    stream = np.array([f"s{i + 1}" for i in range(streams)], dtype=object)[rng.integers(0, streams, n)]
    leg = np.array(["client", "server", None], dtype=object)[rng.integers(0, 3, n)]
    direction = np.array(["client", "server"], dtype=object)[rng.integers(0, 2, n)]
    kind = np.where(direction == "client", "ws_frame_sent", "ws_frame_received")
    source = np.where(leg == None, "netlog", "capture")  # noqa: E711 - elementwise
    return pd.DataFrame(
        {
            "t": t,
            "source": source,
            "stream": stream,
            "leg": leg,
            "kind": kind,
            "direction": direction,
            "size": rng.integers(1, 2000, n).astype(float),
            "code": np.nan,
            "text": None,
        }
    )


def big_diagnosis(n: int, streams: int = 4) -> Diagnosis:
    tl = big_timeline(n, streams)
    ends = tl.groupby("stream")["t"].agg(["min", "max"])
    out = []
    for i, (sid, row) in enumerate(ends.iterrows()):
        abnormal = i == 1
        cause = (
            Cause(kind="connection_reset", actor="network", summary="A TCP reset ended it.", confidence=0.7)
            if abnormal
            else Cause(kind="clean_close", actor="server", summary="Closed with 1000.", confidence=0.9)
        )
        out.append(
            StreamDiagnosis(
                id=str(sid), url=f"ws://app.localhost/{sid}", kind="ws", opened_at=float(row["min"]),
                ended_at=float(row["max"]) + 0.5, cause=cause, abnormal=abnormal,
            )
        )  # fmt: skip
    return Diagnosis(streams=out, sources=[], timeline=tl)
