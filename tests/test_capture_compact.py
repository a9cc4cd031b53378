"""Capture format 2: the compact lines, reading version-1 captures (migration), compressed
captures, and the per-stream totals ``tearline summary`` reads instead of every message."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tearline.analysis.summary.frames import df_streams

from tearline.capture import FORMAT_VERSION, CaptureWriter, make_header, read_capture
from tearline.capture_compact import CompactDecoder, CompactEncoder, build_event
from tearline.events import (
    BodyChunk,
    ConnOpen,
    FaultFired,
    HttpRequest,
    Relay,
    SseEvent,
    WsMessage,
)
from tests.event_strategies import any_event

SEED = Path(__file__).resolve().parent.parent / "bench" / "seed_capture.jsonl"
T0, M0 = 1796289611.407118, 5932.748321118
C, S, UP = "ca5141f8-a339-4ba4-8895-2ce834b3ff96", "d110c36d-b792-4bbf-8d51-9b7d91e5a0e2", "69ec59c2-1f55"


def _events() -> list:
    return [
        ConnOpen(ts=T0 + 0.5, mono=M0 + 0.5, conn=C, leg="client", peer="127.0.0.1:1"),
        HttpRequest(ts=T0 + 0.51, mono=M0 + 0.51, conn=C, stream=S, method="GET", url="http://x/ws"),
        WsMessage(ts=T0 + 0.6, mono=M0 + 0.6, conn=C, stream=S, direction="server", size=32, index=0),
        WsMessage(ts=T0 + 0.7, mono=M0 + 0.7, conn=C, stream=S, direction="client", size=3, index=0),
        Relay(ts=T0 + 0.8, mono=M0 + 0.8, conn=UP, stream=S, leg="server", observed="close", action="close"),
        FaultFired(ts=T0 + 0.81, mono=M0 + 0.81, stream=S, fault_id="f#1", action="close"),
        WsMessage(ts=T0 + 0.9, mono=M0 + 0.9, conn=C, stream=S, direction="server", size=1, index=1),
    ]


def test_a_websocket_message_line_is_short_and_names_its_stream_once(tmp_path):
    path = tmp_path / "c.jsonl"
    w = CaptureWriter(path, make_header(started=T0, mono_started=M0))
    for e in _events():
        w.write(e)
    w.close()
    lines = path.read_text().splitlines()
    assert json.loads(lines[0])["version"] == FORMAT_VERSION == 2
    assert lines[2].count(S) == 1 and S not in "".join(lines[3:])  # full id once, then its number
    msg = json.loads(lines[3])
    assert list(msg) == ["type", "ts", "mono", "stream", "direction", "size"]  # defaults left out
    assert (msg["ts"], msg["mono"], msg["stream"]) == (pytest.approx(0.6), pytest.approx(0.6), 0)
    assert all(len(x) <= 120 for x in lines if '"ws_message"' in x)
    assert json.loads(lines[5])["conn"] == UP  # another connection than the stream's: written
    assert json.loads(lines[6])["conn"] is None  # a stream event without connection: null, not implied
    assert read_capture(path).events[:-1] == _events()


@settings(max_examples=40, deadline=None)
@given(st.lists(any_event, max_size=20), st.floats(min_value=0, max_value=2e9), st.floats(0, 1e7))
def test_encoder_and_decoder_give_every_event_back_exactly(events, started, mono_started):
    enc = CompactEncoder(started, mono_started)
    dec = CompactDecoder({"started": started, "mono_started": mono_started})
    for e in events:
        line = json.loads(json.dumps(enc.encode(e)))
        assert build_event(dec.decode(line)) == e


def test_a_version_1_capture_reads_the_same_as_its_version_2_copy(tmp_path):
    v1 = read_capture(SEED)  # recorded by a real mitmdump in format version 1
    assert v1.source_version == 1 and v1.header["version"] == FORMAT_VERSION and v1.complete
    v2 = tmp_path / "seed.jsonl"
    w = CaptureWriter(v2, {**v1.header, "version": FORMAT_VERSION})
    for e in v1.events[:-1]:
        w.write(e)
    w.close()
    again = read_capture(v2)
    assert again.source_version == 2
    assert again.events[:-1] == v1.events[:-1]
    assert v2.stat().st_size < SEED.stat().st_size * 0.6  # the header and requests weigh the same


@pytest.mark.parametrize("suffix", [".jsonl.gz", ".jsonl.zst"])
def test_compressed_captures_are_written_and_read_by_their_name(tmp_path, suffix):
    path = tmp_path / f"c{suffix}"
    w = CaptureWriter(path, make_header(started=T0, mono_started=M0))
    for e in _events():
        w.write(e)
    w.flush()  # readable while the recorder runs: everything up to the last flush
    mid = read_capture(path)
    assert mid.events == _events() and any("no capture_end" in x for x in mid.warnings)
    w.close()
    cap = read_capture(path)
    assert cap.complete and cap.events[:-1] == _events()
    raw = path.read_bytes()
    assert raw[:2] == b"\x1f\x8b" if suffix.endswith("gz") else raw[:4] == b"\x28\xb5\x2f\xfd"


def test_a_cut_gzip_capture_keeps_what_was_flushed(tmp_path):
    path = tmp_path / "c.jsonl.gz"
    w = CaptureWriter(path, make_header(started=T0, mono_started=M0))
    for e in _events():
        w.write(e)
    w.flush()
    size = path.stat().st_size
    w.close()
    path.write_bytes(path.read_bytes()[:size])  # what kill -9 leaves: no gzip trailer
    cap = read_capture(path)
    assert cap.events == _events() and not cap.complete
    with gzip.open(path) as fh, pytest.raises(EOFError):
        fh.read()


def test_totals_add_up_to_what_the_events_say(tmp_path):
    path = tmp_path / "c.jsonl"
    w = CaptureWriter(path, make_header(started=T0, mono_started=M0))
    extra = [
        BodyChunk(ts=T0 + 1, mono=M0 + 1, conn=C, stream="sse1", size=10),
        SseEvent(ts=T0 + 1.1, mono=M0 + 1.1, conn=C, stream="sse1", data_len=3),
        BodyChunk(ts=T0 + 1.2, mono=M0 + 1.2, conn=C, stream="sse1", size=4, offset=10),
        SseEvent(ts=T0 + 1.3, mono=M0 + 1.3, conn=C, stream="sse1", partial=True, index=1),
        WsMessage(ts=T0 + 1.4, mono=M0 + 1.4, conn=UP, stream=S, direction="client", size=7, index=1),
    ]
    for e in _events() + extra:
        w.write(e)
    w.close()
    full, summed = read_capture(path), read_capture(path, totals=True)
    kinds = {"ws_message", "body_chunk", "sse_event"}
    assert [e for e in full.events if e.type not in kinds] == summed.events
    assert summed.totals is not None and set(summed.totals) == {S, "sse1"}
    assert df_streams(full).equals(df_streams(summed))
    t = summed.totals[S]
    assert (t.client_messages, t.server_messages, t.client_bytes, t.server_bytes) == (2, 2, 10, 33)
    assert (t.first_data, t.last_data) == (T0 + 0.6, T0 + 1.4)


def test_totals_of_the_seed_match_the_full_read():
    assert df_streams(read_capture(SEED)).equals(df_streams(read_capture(SEED, totals=True)))


def test_the_recorder_writes_a_zst_capture_when_trace_file_names_one(tmp_path):
    from websockets.sync.client import connect

    from tearline.lab.mitmdump import Mitmdump
    from tearline.lab.servers import LabServer

    trace = tmp_path / "out.jsonl.zst"
    repo = Path(__file__).resolve().parent.parent
    with LabServer() as server:
        proxy = Mitmdump(
            scripts=[str(repo / "addons" / "ws_trace.py")],
            mode=f"reverse:{server.base}",
            options={"trace_file": str(trace)},
            confdir=tmp_path / "mitm",
            cwd=tmp_path,
        ).start()
        try:
            with connect(f"{proxy.ws_base}/ws?n=3&interval_ms=5&end=close") as ws:
                got = [ws.recv() for _ in range(3)]
        finally:
            proxy.stop()
    assert len(got) == 3
    assert trace.read_bytes()[:4] == b"\x28\xb5\x2f\xfd"
    cap = read_capture(trace)
    assert cap.complete and cap.source_version == FORMAT_VERSION
    assert [e.size for e in cap.events if e.type == "ws_message"] == [len(m) for m in got]
