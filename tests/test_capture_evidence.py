"""tearline captures as evidence: a real mitmdump with addons/ws_trace.py in front of a real lab server
(``recorder`` fixture), driven by a real WebSocket client and HTTP clients; plus one capture written
with ``CaptureWriter`` that holds every event type the table handles."""

from __future__ import annotations

import contextlib
import json
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tearline.analysis.diagnose.diagnosis import diagnose
from tearline.analysis.evidence.capture import HANDLERS, load_capture
from tearline.analysis.evidence.observation import OBSERVATION_KINDS, Observation
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tearline import events as ev
from tearline.capture import CaptureWriter, make_header, read_capture
from tearline.errors import InputError
from tests.conftest import wait_for
from tests.fixtures_proxy import http_get


def of(obs: list[Observation], kind: str, url_part: str = "") -> list[Observation]:
    return [o for o in obs if o.kind == kind and url_part in (o.url or "")]


@pytest.mark.slow
def test_real_capture_of_ws_and_sse(recorder: Callable[..., Any]) -> None:
    proxy = recorder()
    with connect(proxy.ws_base + "/ws?n=3&end=close&code=4000&reason=bye", open_timeout=30) as ws:
        ws.send("hello")
        with contextlib.suppress(ConnectionClosed, TimeoutError):
            while True:
                ws.recv(timeout=30)
    with urllib.request.urlopen(proxy.url + "/sse?n=3", timeout=30) as r:
        assert r.read().count(b"data:") == 3
    with (
        contextlib.suppress(Exception),
        urllib.request.urlopen(proxy.url + "/sse?n=3&end=cut", timeout=30) as r,
    ):
        r.read()

    def both_ends_recorded() -> bool:  # the cut body's end and both legs' connection ends
        evs = read_capture(proxy.capture).events
        cut = [e for e in evs if isinstance(e, ev.BodyEnd) and not e.complete]
        return bool(cut) and {e.leg for e in evs if isinstance(e, ev.ConnClose)} == {"client", "server"}

    wait_for(both_ends_recorded, "the cut SSE body and both legs' connection ends in the capture")
    proxy.stop(timeout=30)

    r = load_capture(proxy.capture)
    obs = r.observations
    assert r.name == "capture" and r.meta["complete"] is True and r.warnings == []
    assert all(o.kind in OBSERVATION_KINDS for o in obs)

    # WebSocket: 3 server messages + the echo, closed by the server with 4000 "bye"
    assert len(of(obs, "ws_frame_sent", "/ws")) == 1
    assert len(of(obs, "ws_frame_received", "/ws")) == 4
    (received,) = of(obs, "ws_close_received", "/ws")
    assert (received.code, received.reason, received.direction) == (4000, "bye", "server")
    (closed,) = of(obs, "ws_closed", "/ws")
    assert closed.code == 4000 and closed.text == "clean"
    assert of(obs, "ws_open", "/ws")[0].status == 101

    # SSE complete vs cut
    assert (
        len([o for o in of(obs, "data_received", "/sse?n=3") if (o.text or "").startswith("sse event")]) == 6
    )
    done = [o for o in of(obs, "request_done", "/sse?n=3") if "end=cut" not in (o.url or "")]
    assert done and done[0].text == "terminated"
    cut = [o for o in of(obs, "request_failed", "end=cut") if (o.text or "").startswith("body cut")]
    assert cut
    # connections carry the stream they served
    assert any(o.kind == "socket_closed" and o.stream_key == closed.stream_key for o in obs)
    assert {o.leg for o in obs if o.kind == "socket_closed"} == {"client", "server"}


def test_every_event_type(tmp_path: Path) -> None:
    p = tmp_path / "cap.jsonl"
    w = CaptureWriter(p, make_header(mode=["reverse:http://127.0.0.1:1"]))
    t = 1_700_000_000.0
    events: list[ev.Event] = [
        ev.ConnOpen(ts=t, mono=1, conn="c1", leg="client"),
        ev.ConnOpen(ts=t, mono=1, conn="s1", leg="server"),
        ev.HttpRequest(ts=t + 0.1, mono=1.1, conn="c1", stream="f1", method="GET", url="http://a.test/ws", server_conn="s1"),
        ev.HttpResponse(ts=t + 0.2, mono=1.2, conn="s1", stream="f1", status=101, kind="ws"),
        ev.WsStart(ts=t + 0.2, mono=1.2, conn="c1", stream="f1"),
        ev.WsMessage(ts=t + 0.3, mono=1.3, conn="c1", stream="f1", direction="client", size=5),
        ev.WsMessage(ts=t + 0.4, mono=1.4, conn="c1", stream="f1", direction="server", size=9, injected=True),
        ev.FaultFired(ts=t + 0.5, mono=1.5, stream="f1", fault_id="s.toml#1", action="close", trigger="after 1",
                      client_action="close 1001", server_action="fin"),
        ev.WsClose(ts=t + 0.5, mono=1.5, conn="c1", stream="f1", code=1001, closed_by="proxy", frame=True, answered=False),
        ev.Relay(ts=t + 0.5, mono=1.5, conn="s1", stream="f1", leg="server", observed="close", action="fin"),
        ev.ConnClose(ts=t + 0.6, mono=1.6, conn="s1", leg="server", by="proxy", how="closed"),
        ev.HttpRequest(ts=t + 1, mono=2, conn="c1", stream="f2", method="POST", url="http://a.test/run"),
        ev.HttpResponse(ts=t + 1.1, mono=2.1, conn="c1", stream="f2", status=200, kind="sse", streamed=True),
        ev.BodyChunk(ts=t + 1.2, mono=2.2, conn="c1", stream="f2", size=30),
        ev.BodyChunk(ts=t + 1.2, mono=2.2, conn="c1", stream="f2", size=2, direction="client"),
        ev.SseEvent(ts=t + 1.2, mono=2.2, conn="c1", stream="f2", event="delta", data_len=20, partial=True),
        ev.H2Reset(ts=t + 1.3, mono=2.3, conn="c1", stream="f2", error_code=2, by="server"),
        ev.H2GoAway(ts=t + 1.3, mono=2.3, conn="c1", error_code=0, by="server"),
        ev.BodyEnd(ts=t + 1.3, mono=2.3, conn="c1", stream="f2", complete=False, how="error", total_bytes=30, error="reset"),
        ev.FlowError(ts=t + 1.3, mono=2.3, conn="c1", stream="f2", message="stream reset"),
        ev.Anomaly(ts=t + 1.4, mono=2.4, text="odd frame"),
        ev.ConnClose(ts=t + 1.5, mono=2.5, conn="c1", leg="client", by="peer", how="rst", error="reset", errno=104),
    ]  # fmt: skip
    for e in events:
        w.write(e)
    w.close()
    assert {type(e) for e in events} <= set(HANDLERS) | {ev.ConnOpen}
    obs = load_capture(p).observations
    kinds = [o.kind for o in obs]
    for kind in ("ws_open", "ws_frame_sent", "ws_frame_received", "fault", "ws_close_received", "ws_closed", "relay",
                 "socket_closed", "request_start", "response_headers", "data_received", "data_sent", "h2_rst_stream",
                 "h2_goaway", "request_failed", "console"):  # fmt: skip
        assert kind in kinds, kind
    assert kinds.count("ws_open") == 1  # the 101 response and ws_start are one opening
    by_proxy = of(obs, "ws_close_received")[0]
    assert (by_proxy.code, by_proxy.text) == (1001, "by proxy")
    assert of(obs, "ws_closed")[0].text == "unclean"
    assert of(obs, "ws_frame_received")[0].tampered == "injected"
    assert "close 1001" in (of(obs, "fault")[0].text or "")
    reset = next(o for o in obs if o.kind == "socket_closed" and o.leg == "client")
    assert reset.text == "rst by peer" and reset.code == 104 and reset.stream_key == "f2"
    server_close = next(o for o in obs if o.kind == "socket_closed" and o.leg == "server")
    assert server_close.stream_key == "f1" and server_close.url == "http://a.test/ws"
    assert of(obs, "h2_rst_stream")[0].direction == "server" and of(obs, "h2_rst_stream")[0].code == 2
    assert "(partial)" in (of(obs, "data_received", "/run")[-1].text or "")
    assert not of(obs, "proxy_timeout")  # a reset by the peer is no timer


def test_only_the_proxys_own_timeout_is_a_timer(tmp_path: Path) -> None:
    p = tmp_path / "cap.jsonl"
    w = CaptureWriter(p, make_header(mode=["regular"], options={"trace_flush_ms": 50}))
    t = 1_700_000_000.0
    for e in (
        ev.ConnOpen(ts=t, mono=1, conn="c1", leg="client"),
        ev.ConnOpen(ts=t, mono=1, conn="s1", leg="server"),
        ev.HttpRequest(ts=t + 0.1, mono=1.1, conn="c1", stream="f1", method="GET", url="http://a.test/sse", server_conn="s1"),
        ev.ConnClose(ts=t + 5, mono=6, conn="s1", leg="server", by="peer", how="timeout", error="ETIMEDOUT", errno=110),
        ev.ConnClose(ts=t + 5, mono=6, conn="c1", leg="client", by="proxy", how="timeout", error="idle timeout (tcp_timeout)"),
    ):  # fmt: skip
        w.write(e)
    w.close()
    r = load_capture(p)
    (timer,) = of(r.observations, "proxy_timeout")
    assert (timer.leg, timer.text, timer.stream_key) == (
        "client",
        "mitmproxy idle timeout (tcp_timeout)",
        "f1",
    )
    assert r.meta["mode"] == ["regular"] and r.meta["options"] == {"trace_flush_ms": 50}


@pytest.mark.slow
def test_real_idle_timeout_is_named_a_proxy_timer(
    recorder: Callable[..., Any], lab_server: Any, tmp_path: Path
) -> None:
    """mitmproxy's own idle timer (``--set tcp_timeout=2``) ends an SSE stream the server left hanging.

    As recorded, the capture's ``conn_close`` (how ``timeout``, by ``proxy``) names the timer. Without
    that line, the timer value ws_trace records in the header (``options.tcp_timeout``) still explains
    the end; without either, nothing may claim a timer.
    """
    proxy = recorder(options={"tcp_timeout": 2})
    body = http_get(proxy.port, "/sse?n=3&end=hang", timeout=60)
    assert body.count(b"data:") == 3
    proxy.stop(timeout=30)

    r = load_capture(proxy.capture)
    assert r.meta["mode"] == [f"reverse:{lab_server.base}"]
    assert r.meta["options"]["trace_flush_ms"] == 100 and "trace_payload" in r.meta["options"]
    (timer,) = of(r.observations, "proxy_timeout")
    assert timer.leg == "client" and "tcp_timeout" in (timer.text or "") and "/sse" in (timer.url or "")
    last_data = max(o.t for o in of(r.observations, "data_received"))
    assert 1.9 <= timer.t - last_data <= 3.5  # the watchdog's 2 s, on a loaded machine

    (s,) = diagnose([r]).streams
    assert (s.kind, s.cause.kind, s.cause.actor) == ("sse", "proxy_timeout", "proxy")
    assert "tcp_timeout" in s.cause.summary
    assert s.stats["messages_server"] == 3  # three chunks, each one event: counted once

    # the same recording without the line that names the timer: a recorded value must explain the end
    lines = proxy.capture.read_text().splitlines()
    kept = [line for line in lines[1:] if '"how":"timeout"' not in line]
    assert len(kept) == len(lines) - 2
    header = json.loads(lines[0])
    assert header["options"]["tcp_timeout"] == 2  # the recorder wrote mitmproxy's timer down
    recorded = tmp_path / "recorded.jsonl"
    recorded.write_text("\n".join([lines[0], *kept]) + "\n")
    del header["options"]["tcp_timeout"]
    bare = tmp_path / "bare.jsonl"
    bare.write_text("\n".join([json.dumps(header), *kept]) + "\n")

    (s,) = diagnose([load_capture(bare)]).streams
    assert s.cause.kind != "proxy_timeout"
    (s,) = diagnose([load_capture(recorded)]).streams
    assert (s.cause.kind, s.cause.actor) == ("proxy_timeout", "proxy")
    assert "idle time" in s.cause.summary and "capture.options.tcp_timeout" in s.cause.summary
    assert all("None" not in e.text for e in s.cause.evidence), s.cause.evidence


def test_not_a_capture(tmp_path: Path) -> None:
    p = tmp_path / "x.jsonl"
    p.write_text('{"method": "Network.dataReceived"}\n')
    with pytest.raises(InputError) as e:
        load_capture(p)
    assert "\n" not in str(e.value) and "tearline-capture" in str(e.value)
