"""Captures as DataFrames: events, connections, streams (built from hand-written captures)."""

from __future__ import annotations

import math

import pytest
from tearline.analysis.summary.frames import (
    CONNECTION_COLUMNS,
    STREAM_COLUMNS,
    df_connections,
    df_events,
    df_streams,
    load,
)

from tearline.capture import CaptureWriter, make_header
from tearline.events import (
    BodyChunk,
    BodyEnd,
    ConnClose,
    ConnOpen,
    FaultFired,
    FlowError,
    HttpRequest,
    HttpResponse,
    SseEvent,
    WsClose,
    WsMessage,
)


def _cap(tmp_path, events, footer=True):
    path = tmp_path / "c.jsonl"
    w = CaptureWriter(path, make_header(started=100.0, mono_started=0.0))
    for e in events:
        w.write(e)
    if footer:
        w.close()
    else:
        w.flush()
    return path


def ws_capture(tmp_path):
    t = 100.0
    return _cap(
        tmp_path,
        [
            ConnOpen(ts=t, mono=0, conn="c1", leg="client", peer="127.0.0.1:5000"),
            ConnOpen(ts=t + 0.01, mono=0.01, conn="s1", leg="server", client_conn="c1"),
            HttpRequest(
                ts=t + 0.02,
                mono=0.02,
                conn="c1",
                stream="f1",
                method="GET",
                url="http://h/ws",
                server_conn="s1",
            ),
            HttpResponse(ts=t + 0.03, mono=0.03, conn="c1", stream="f1", status=101, kind="ws"),
            WsMessage(ts=t + 0.1, mono=0.1, conn="c1", stream="f1", direction="client", size=3),
            WsMessage(ts=t + 0.2, mono=0.2, conn="c1", stream="f1", direction="server", size=10, index=0),
            WsMessage(ts=t + 0.3, mono=0.3, conn="c1", stream="f1", direction="server", size=20, index=1),
            WsClose(
                ts=t + 1.02,
                mono=1.02,
                conn="c1",
                stream="f1",
                code=1006,
                closed_by="server",
                frame=False,
                transport_end="rst",
            ),
            ConnClose(
                ts=t + 1.0, mono=1.0, conn="s1", leg="server", by="peer", how="rst", errno=104, error="reset"
            ),
            ConnClose(ts=t + 1.05, mono=1.05, conn="c1", leg="client", by="proxy", how="closed"),
        ],
    )


def test_events_frame(tmp_path):
    df = df_events(ws_capture(tmp_path))
    assert list(df.columns[:7]) == ["seq", "type", "ts", "mono", "t_rel", "conn", "stream"]
    assert len(df) == 11 and df["type"].iloc[-1] == "capture_end"
    assert df["t_rel"].iloc[0] == pytest.approx(0.0)
    assert df.loc[df.type == "ws_message", "size"].tolist() == [3, 10, 20]


def test_connections_frame(tmp_path):
    df = df_connections(ws_capture(tmp_path)).set_index("conn")
    assert list(df.reset_index().columns) == CONNECTION_COLUMNS
    assert df.loc["s1", "client_conn"] == "c1"
    assert (df.loc["s1", "by"], df.loc["s1", "how"], df.loc["s1", "errno"]) == ("peer", "rst", 104)
    assert df.loc["c1", "streams"] == 1
    assert df.loc["s1", "duration_s"] == pytest.approx(0.99)


def test_streams_frame_ws(tmp_path):
    df = df_streams(ws_capture(tmp_path))
    assert list(df.columns) == STREAM_COLUMNS
    (s,) = df.to_dict("records")
    assert (s["kind"], s["client_messages"], s["server_messages"]) == ("ws", 1, 2)
    assert (s["client_bytes"], s["server_bytes"]) == (3, 30)
    assert (s["close_code"], s["closed_by"], s["close_frame"], s["transport_end"]) == (
        1006,
        "server",
        False,
        "rst",
    )
    assert s["lifetime_s"] == pytest.approx(1.0)
    assert s["end"] == "no close frame: server rst"
    assert s["first_data"] == pytest.approx(100.1) and s["last_data"] == pytest.approx(100.3)


def sse_capture(tmp_path, *, cut_by: str | None):
    t = 200.0
    evs = [
        ConnOpen(ts=t, mono=0, conn="c2", leg="client"),
        ConnOpen(ts=t, mono=0, conn="s2", leg="server", client_conn="c2"),
        HttpRequest(ts=t, mono=0, conn="c2", stream="f2", method="GET", url="http://h/sse", server_conn="s2"),
        HttpResponse(ts=t + 0.01, mono=0.01, conn="c2", stream="f2", status=200, kind="sse", streamed=True),
        BodyChunk(ts=t + 0.1, mono=0.1, conn="c2", stream="f2", size=20),
        SseEvent(ts=t + 0.1, mono=0.1, conn="c2", stream="f2", data_len=10),
        BodyChunk(ts=t + 0.2, mono=0.2, conn="c2", stream="f2", size=7, offset=20),
    ]
    if cut_by is None:
        evs.append(
            BodyEnd(
                ts=t + 0.3,
                mono=0.3,
                conn="c2",
                stream="f2",
                complete=True,
                how="terminated",
                total_bytes=27,
                chunks=2,
            )
        )
    else:
        evs += [
            FlowError(ts=t + 0.3, mono=0.3, conn="c2", stream="f2", message="peer closed"),
            SseEvent(ts=t + 0.3, mono=0.3, conn="c2", stream="f2", data_len=3, partial=True, index=1),
            BodyEnd(
                ts=t + 0.3,
                mono=0.3,
                conn="c2",
                stream="f2",
                complete=False,
                how="cut",
                total_bytes=27,
                chunks=2,
            ),
        ]
        if cut_by == "proxy":
            evs.insert(
                -3, FaultFired(ts=t + 0.25, mono=0.25, conn="c2", stream="f2", fault_id="x#1", action="cut")
            )
        ends = {
            "client": [("c2", "peer", "rst", 0.29), ("s2", "proxy", "closed", 0.31)],
            "server": [("s2", "peer", "fin", 0.29), ("c2", "proxy", "closed", 0.31)],
            "proxy": [("s2", "proxy", "closed", 0.29), ("c2", "proxy", "closed", 0.31)],
        }[cut_by]
        for conn, by, how, dt in ends:
            evs.append(
                ConnClose(
                    ts=t + dt, mono=dt, conn=conn, leg="client" if conn == "c2" else "server", by=by, how=how
                )
            )
    return _cap(tmp_path, evs)


@pytest.mark.parametrize("cut_by", [None, "client", "server", "proxy"])
def test_streams_frame_sse_closed_by(tmp_path, cut_by):
    (s,) = df_streams(sse_capture(tmp_path, cut_by=cut_by)).to_dict("records")
    assert (s["kind"], s["server_messages"], s["chunks"], s["server_bytes"]) == ("sse", 1, 2, 27)
    if cut_by is None:
        assert s["body_complete"] and s["closed_by"] == "server" and s["end"] == "complete (terminated)"
        assert s["partial_events"] == 0
    else:
        assert s["body_complete"] is False and s["closed_by"] == cut_by
        assert s["partial_events"] == 1 and "partial" in s["end"]
        assert s["error"] == "peer closed"
    assert s["close_code"] is None or math.isnan(s["close_code"])


def test_kinds_filter_and_order(tmp_path):
    path = _cap(
        tmp_path,
        [
            HttpRequest(ts=5.0, mono=5, conn="c", stream="b", method="GET", url="/b"),
            HttpRequest(ts=1.0, mono=1, conn="c", stream="a", method="GET", url="/a"),
            HttpResponse(ts=1.1, mono=1.1, conn="c", stream="a", status=200, kind="http"),
            BodyEnd(
                ts=1.2, mono=1.2, conn="c", stream="a", complete=True, how="length", total_bytes=9, chunks=1
            ),
        ],
    )
    assert df_streams(path)["url"].tolist() == ["/a", "/b"]
    assert df_streams(path, kinds=("ws", "sse")).empty
    rec = df_streams(path).iloc[0]
    assert rec["server_bytes"] == 9 and rec["end"] == "complete (length)"
    assert df_streams(path).iloc[1]["end"] == "open (no end recorded)"


def test_load_keeps_warnings(tmp_path):
    cap = load(ws_capture(tmp_path))
    assert cap.complete
    torn = _cap(tmp_path, [], footer=False)
    assert not load(torn).complete
    assert df_streams(torn).empty and df_connections(torn).empty
