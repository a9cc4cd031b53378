"""diagnose(): the Diagnosis contract on hand-written evidence."""

from __future__ import annotations

import json
from typing import Any

from tearline.analysis.diagnose.diagnosis import TIMELINE_COLUMNS, diagnose, known_timeouts
from tearline.analysis.evidence.observation import Observation, SourceRecord

T0 = 1_780_000_000.0


def o(source: str, kind: str, dt: float, key: str | None = "1", **kw: Any) -> Observation:
    return Observation(source=source, kind=kind, t=T0 + dt, stream_key=key, **kw)


def incident() -> list[SourceRecord]:
    """The motivating incident: SSE over a streamed fetch, the user clicks away mid-stream."""
    net = SourceRecord(
        name="netlog",
        path="netlog.json",
        clock="netlog timeTickOffset",
        observations=[
            o("netlog", "navigation", -2.0, key=None, url="http://www.localhost/chat"),
            o("netlog", "request_start", 0.0, url="http://ai.localhost/agent/run", text="POST"),
            o("netlog", "response_headers", 0.1, status=200, text="text/event-stream"),
            *[o("netlog", "data_received", 0.2 + 0.1 * i, size=80) for i in range(15)],
            o("netlog", "navigation", 1.7, key=None, url="http://www.localhost/other"),
            o("netlog", "request_cancelled", 1.71, error="ERR_ABORTED"),
            o("netlog", "request_start", 0.0, key="2", url="http://www.localhost/favicon.ico"),
            o("netlog", "ws_created", 0.5, key="3", url="ws://ai.localhost/ws"),
            o("netlog", "ws_frame_received", 0.6, key="3", size=5, text="text"),
            o("netlog", "ws_close_received", 0.7, key="3", code=1000),
            o("netlog", "ws_closed", 0.71, key="3", code=1000),
        ],
    )
    caddy = SourceRecord(
        name="caddy",
        path="caddy.log",
        observations=[
            o(
                "caddy",
                "proxy_abort",
                1.72,
                key=None,
                url="http://ai.localhost/agent/run",
                text="writing: context canceled",
            ),
            o(
                "caddy",
                "access",
                1.72,
                key=None,
                url="http://ai.localhost/agent/run",
                status=200,
                duration=0.0,
            ),
        ],
        warnings=["line 3: not JSON, skipped"],
    )
    return [net, caddy]


def test_incident_names_the_navigation_and_keeps_the_clean_ws_normal() -> None:
    d = diagnose(incident())
    by_url = {s.url: s for s in d.streams}
    assert set(by_url) == {"http://ai.localhost/agent/run", "ws://ai.localhost/ws"}
    run = by_url["http://ai.localhost/agent/run"]
    assert run.kind == "sse" and run.outcome == "expected" and not run.abnormal  # a click-away is no fault
    assert (run.cause.kind, run.cause.actor) == ("client_navigation", "browser")
    assert run.opened_at == T0 and run.ended_at == T0 + 1.71
    assert run.sources == ("netlog", "caddy")
    assert run.stats["messages_server"] == 15
    ws = by_url["ws://ai.localhost/ws"]
    assert ws.cause.kind == "clean_close" and ws.outcome == "expected"
    assert d.first_abnormal is None and d.counts_sentence() == "2 streams: 0 faults, 2 ended as expected"
    assert any("favicon" in n for n in d.notes)


def test_alternatives_are_distinct_kinds_and_not_the_cause() -> None:
    for s in diagnose(incident()).streams:
        kinds = [a.kind for a in s.alternatives]
        assert len(kinds) == len(set(kinds)) and s.cause.kind not in kinds


def test_timeline_and_sources_follow_model_contract() -> None:
    records = incident()
    d = diagnose(records)
    assert tuple(d.timeline.columns) == TIMELINE_COLUMNS
    assert len(d.timeline) == sum(len(r.observations) for r in records)
    assert d.timeline["t"].is_monotonic_increasing
    assert set(d.timeline["stream"].dropna()) == {"s1", "s2"}
    navs = d.timeline[d.timeline["kind"] == "navigation"]
    assert list(navs["url"]) == ["http://www.localhost/chat", "http://www.localhost/other"]
    ends = d.timeline[d.timeline["kind"] == "request_cancelled"]
    assert ends["url"].isna().all() and list(ends["text"]) == ["ERR_ABORTED"]
    assert [s.name for s in d.sources] == ["netlog", "caddy"]
    assert d.sources[0].clock == "netlog timeTickOffset" and d.sources[1].warnings == (
        "line 3: not JSON, skipped",
    )
    doc = d.to_dict()
    json.dumps(doc, allow_nan=False)
    stream = doc["streams"][0]
    for key in ("url", "kind", "opened_at", "ended_at", "cause"):
        assert key in stream
    assert {"kind", "actor", "summary", "confidence", "evidence"} <= set(stream["cause"])


def test_no_streams_and_unknown_end() -> None:
    empty = diagnose([SourceRecord(name="netlog", path="n")])
    assert empty.streams == [] and any("No WebSocket" in n for n in empty.notes)
    open_ws = diagnose(
        [SourceRecord(name="netlog", path="n", observations=[o("netlog", "ws_created", 0, url="ws://h/ws")])]
    )
    s = open_ws.streams[0]
    assert s.cause.kind == "unknown" and s.ended_at is None and not s.abnormal


def test_known_timeouts_from_metadata() -> None:
    recs = [
        SourceRecord(
            name="capture",
            path="c",
            meta={"options": {"tcp_timeout": 600, "ws_idle_timeout_ms": 2500, "flag": True}},
        ),
        SourceRecord(name="caddy", path="l", meta={"stream_timeout": "2s", "other": "x"}),
    ]
    assert known_timeouts(recs) == {
        "capture.options.tcp_timeout": 600.0,
        "capture.options.ws_idle_timeout_ms": 2.5,
        "caddy.stream_timeout": 2.0,
    }


def test_navigation_label_in_the_swimlanes_is_the_destination() -> None:
    """The report's navigation marker shows where the page went, not the request's method."""
    from matplotlib.text import Text
    from tearline.analysis.report.plots import plot_swimlanes

    records = incident()
    net = records[0]
    net.observations[:] = [
        o("netlog", "navigation", 1.7, key=None, url="http://www.localhost/other?token=SECRET9", text="GET")
        if x.kind == "navigation" and x.t == T0 + 1.7
        else x
        for x in net.observations
    ]
    ax = plot_swimlanes(diagnose(records))
    shown = [t.get_text() for t in ax.figure.findobj(Text)]
    assert any(t.startswith("→ http://www.localhost/other") for t in shown), shown
    assert "GET" not in shown and not any("SECRET9" in t for t in shown)


def test_an_end_with_unknown_time_is_not_drawn_when_another_source_timed_it() -> None:
    """A HAR failure without receive timing sits at the headers' time; the timeline must not show
    the end there when the NetLog saw when it really happened (the evidence still has it)."""
    unknown = "end time unknown (the HAR has no receive timing): t is when the response headers arrived"
    har = SourceRecord(
        name="har",
        path="page.har",
        observations=[
            o("har", "request_start", 0.0, key="h1", url="http://ai.localhost/agent/run", text="POST"),
            o("har", "response_headers", 0.1, key="h1", status=200, text="text/event-stream"),
            o("har", "request_cancelled", 0.1, key="h1", error="ERR_ABORTED", time_note=unknown),
        ],
    )
    with_netlog = diagnose([*incident(), har])
    (s,) = [s for s in with_netlog.streams if s.kind == "sse"]
    rows = with_netlog.timeline[with_netlog.timeline.stream == s.id]
    assert set(rows[rows.kind == "request_cancelled"].source) == {"netlog"}
    assert abs(s.ended_at - (T0 + 1.71)) < 0.05

    har_only = diagnose([har])
    cancelled = har_only.timeline[har_only.timeline.kind == "request_cancelled"]
    assert list(cancelled.source) == ["har"]  # the only end there is: kept, with its caveat in the evidence
