"""The stream table: matching across sources, noise, counts, df_streams."""

from __future__ import annotations

import math
from typing import Any

from tearline.analysis.diagnose.parts import url_path
from tearline.analysis.diagnose.streams import STREAM_COLUMNS, build_streams, df_streams
from tearline.analysis.evidence.observation import Observation, SourceRecord

T0 = 1_780_000_000.0


def o(source: str, kind: str, dt: float, key: str | None = "1", **kw: Any) -> Observation:
    return Observation(source=source, kind=kind, t=T0 + dt, stream_key=key, **kw)


def rec(name: str, *obs: Observation) -> SourceRecord:
    return SourceRecord(name=name, path=f"{name}.file", observations=list(obs))


def test_url_path_ignores_scheme_host_and_fragment() -> None:
    assert (
        url_path("ws://ai.localhost:8080/ws?x=1#f") == url_path("http://127.0.0.1:9999/ws?x=1") == "/ws?x=1"
    )
    assert url_path(None) is None


def test_same_stream_in_three_sources_is_one_stream_with_counts() -> None:
    net = rec(
        "netlog",
        o("netlog", "ws_created", 0.0, key="7", url="ws://ai.localhost:8080/ws"),
        *[o("netlog", "ws_frame_received", 0.1 * i, key="7", size=10, text="text") for i in range(1, 6)],
        o("netlog", "ws_frame_received", 0.55, key="7", size=0, text="ping"),
        o("netlog", "ws_frame_sent", 0.3, key="7", size=4, text="text"),
        o("netlog", "ws_closed", 1.0, key="7", code=1000),
    )
    cdp = rec(
        "cdp",
        o("cdp", "ws_created", 0.004, key="A.1", url="ws://ai.localhost:8080/ws"),
        o("cdp", "ws_closed", 1.001, key="A.1"),
    )
    cap = rec(
        "capture",
        o("capture", "request_start", 0.01, key="flow", url="http://127.0.0.1:4444/ws", leg="client"),
        o("capture", "ws_closed", 0.99, key="flow", code=1000, leg="client"),
    )
    caddy = rec(
        "caddy", o("caddy", "access", 1.0, key=None, url="http://ai.localhost/ws", status=101, duration=1.0)
    )
    streams, noise, _ = build_streams([net, cdp, cap, caddy])
    assert len(streams) == 1 and not noise
    s = streams[0]
    assert s.id == "s1" and s.kind == "ws" and s.url == "ws://ai.localhost:8080/ws"
    assert set(s.sources) == {"netlog", "cdp", "capture", "caddy"}
    st = s.stats()
    assert st["messages_server"] == 5 and st["bytes_server"] == 50  # the ping is not a message
    assert st["messages_client"] == 1 and st["last_server"] == T0 + 0.5
    assert len(st["ends"]) == 4
    assert s.opened_at == T0 and s.ended_at == T0 + 1.0


def test_reconnects_to_the_same_url_stay_separate_streams() -> None:
    net = rec(
        "netlog",
        o("netlog", "ws_created", 0.0, key="1", url="ws://h/ws"),
        o("netlog", "ws_closed", 1.0, key="1", code=1006),
        o("netlog", "ws_created", 10.0, key="2", url="ws://h/ws"),
        o("netlog", "ws_closed", 11.0, key="2", code=1006),
    )
    cdp = rec(
        "cdp",
        o("cdp", "ws_created", 10.01, key="b", url="ws://h/ws"),
        o("cdp", "ws_created", 0.01, key="a", url="ws://h/ws"),
    )
    streams, _, _ = build_streams([net, cdp])
    assert [s.id for s in streams] == ["s1", "s2"]
    assert [p.key for p in streams[0].parts] == ["1", "a"]
    assert [p.key for p in streams[1].parts] == ["2", "b"]


def test_background_noise_is_set_aside() -> None:
    net = rec(
        "netlog",
        o("netlog", "request_start", 0.0, key="1", url="http://www.localhost/favicon.ico"),
        o("netlog", "request_start", 0.0, key="2", url="http://nowhere.example/"),
        o("netlog", "request_failed", 0.1, key="2", error="ERR_NAME_NOT_RESOLVED", code=-105),
        o("netlog", "request_start", 0.0, key="3", url="http://[::1]:8080/x"),
        o("netlog", "request_failed", 0.1, key="3", error="ERR_CONNECTION_REFUSED", code=-102),
        o("netlog", "request_start", 0.0, key="4", url="http://www.localhost/app.js"),
        o("netlog", "response_headers", 0.05, key="4", status=200),
        o("netlog", "data_received", 0.06, key="4", size=1000),
        o("netlog", "request_done", 0.07, key="4"),
        o("netlog", "ws_created", 0.0, key="5", url="ws://h/ws"),
        o("netlog", "request_failed", 2.0, key="5", error="ERR_WS_UPGRADE", code=-173),
    )
    streams, noise, _ = build_streams([net])
    assert [s.url for s in streams] == ["ws://h/ws"]
    assert streams[0].ended_at is None  # ERR_WS_UPGRADE is not an end
    why = sorted(n.noise or "" for n in noise)
    assert why == ["failed DNS lookup", "favicon", "not a streaming request", "refused IPv6 attempt"]


def test_sse_and_streaming_fetch_and_5xx_are_streams() -> None:
    net = rec(
        "netlog",
        o("netlog", "request_start", 0.0, key="1", url="http://h/sse"),
        o("netlog", "response_headers", 0.1, key="1", status=200, text="content-type: text/event-stream"),
        o("netlog", "request_start", 0.0, key="2", url="http://h/stream"),
        *[o("netlog", "data_received", 0.2 * i, key="2", size=5) for i in range(1, 5)],
        o("netlog", "request_start", 0.0, key="3", url="http://h/run"),
        o("netlog", "response_headers", 0.1, key="3", status=502),
    )
    streams, _, _ = build_streams([net])
    assert {s.url: s.kind for s in streams} == {
        "http://h/sse": "sse",
        "http://h/stream": "http-stream",
        "http://h/run": "http-stream",
    }


def test_df_streams_documented_columns() -> None:
    net = rec(
        "netlog",
        o("netlog", "ws_created", 0.0, key="7", url="ws://h/ws"),
        o("netlog", "ws_frame_received", 0.5, key="7", size=10, text="text"),
    )
    streams, _, _ = build_streams([net])
    df = df_streams(streams)
    assert list(df.columns) == list(STREAM_COLUMNS)
    row = df.iloc[0]
    assert row["kind"] == "ws" and row["messages_server"] == 1 and math.isnan(row["ended_at"])
    assert df_streams([]).empty


def test_a_part_with_no_url_is_not_reported_as_a_stream() -> None:
    cap = rec(
        "capture",
        o("capture", "ws_frame_received", 0.1, key="torn", size=5, text="text"),
        o("capture", "ws_closed", 0.2, key="torn", code=1006),
    )
    streams, noise, _ = build_streams([cap])
    assert streams == [] and noise[0].noise is not None and "no URL" in noise[0].noise


def test_chunks_and_the_sse_events_parsed_from_them_count_once() -> None:
    """A capture (body_chunk + sse_event) or DevTools (dataReceived + eventSourceMessageReceived)
    reports each arrival twice; the counts and the silence before the end use the chunks only."""
    obs = [
        o("capture", "request_start", 0.0, url="http://h/sse", text="GET"),
        o("capture", "response_headers", 0.01, status=200, text="sse"),
    ]
    for i in range(4):
        obs.append(o("capture", "data_received", 0.1 + 0.5 * i, size=24, direction="server"))
        obs.append(
            o("capture", "data_received", 0.1 + 0.5 * i, size=16, text="sse event message", event="message")
        )
    obs.append(o("capture", "data_received", 1.9, size=3, direction="server"))  # ": \n" keep-alive comment
    (s,), _, _ = build_streams([rec("capture", *obs)])
    st = s.stats()
    assert (st["messages_server"], st["bytes_server"]) == (5, 99)
    assert st["last_server"] == T0 + 1.9
    events_only = [x for x in obs if x.kind != "data_received" or x.text]
    (s,), _, _ = build_streams([rec("capture", *events_only)])
    assert (s.stats()["messages_server"], s.stats()["bytes_server"]) == (4, 64)  # no chunks: the events count


def test_the_pipeline_asks_the_source_table_not_source_names() -> None:
    """parts, match, align and streams name no source: what they know of one is ``SOURCE_TABLE``."""
    import ast
    from pathlib import Path

    import tearline.analysis.diagnose as pkg
    from tearline.analysis.evidence.observation import SOURCE_NAMES, SOURCE_TABLE

    assert set(SOURCE_TABLE) == set(SOURCE_NAMES)
    folder = Path(pkg.__file__).parent
    for module in ("parts", "match", "align", "streams"):
        tree = ast.parse((folder / f"{module}.py").read_text(encoding="utf-8"))
        named = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and n.value in SOURCE_NAMES}
        assert not named, f"{module}.py compares with source names {sorted(named)}: use SOURCE_TABLE"


def test_a_stream_kind_is_decided_before_the_stream_is_built() -> None:
    """An ordinary request kept as a stream (a 5xx) is an http-stream from the start; noise stays http."""
    from tearline.analysis.diagnose.parts import source_parts
    from tearline.analysis.diagnose.streams import classify

    kept = rec("netlog", o("netlog", "request_start", 0, url="http://h/api", text="GET"))
    kept.observations.append(o("netlog", "response_headers", 0.1, status=502))
    parts, _ = source_parts([kept])
    assert classify(parts) == ("http://h/api", "http-stream", None)
    plain = rec("netlog", o("netlog", "request_start", 0, url="http://h/app.js", text="GET"))
    parts, _ = source_parts([plain])
    assert classify(parts) == ("http://h/app.js", "http", "not a streaming request")
