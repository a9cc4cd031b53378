"""tearline.faults.body_faults: body chunks in, bytes to pass on and firings out (pure)."""

from tearline.faults.effects import Truncate
from tests.fault_streams import SSE, stream


def test_truncate_after_events_cuts_at_the_event_end() -> None:
    sf = stream("truncate:stream=sse,after_messages=2", kind="sse")
    dec = sf.on_chunk(SSE, 0.1)
    assert dec.out == b"id: 0\ndata: event 0\n\nid: 1\ndata: event 1\n\n"
    assert dec.after[0].effects == (Truncate(keep=len(dec.out), how="fin"),)


def test_truncate_mid_event_waits_for_the_next_event() -> None:
    sf = stream("truncate:stream=sse,after_messages=1,mid_event=true", kind="sse")
    first = sf.on_chunk(b"id: 0\ndata: event 0\n\n", 0.1)
    assert first.out == b"id: 0\ndata: event 0\n\n" and not first.after
    second = sf.on_chunk(b"id: 1\ndata: event 1\n\n", 0.2)
    assert second.after and 0 < len(second.out) < 21 and b"\n\n" not in second.out


def test_truncate_after_bytes_is_exact() -> None:
    sf = stream("truncate:stream=http-stream,after_bytes=25", kind="http-stream")
    assert sf.on_chunk(b"x" * 20, 0.1).out == b"x" * 20
    dec = sf.on_chunk(b"y" * 20, 0.2)
    assert dec.out == b"y" * 5 and dec.after


def test_drop_sse_events_split_across_chunks() -> None:
    sf = stream("drop:stream=sse,event=ping", kind="sse")
    body = b"event: ping\ndata: 1\n\ndata: keep\n\nevent: ping\ndata: 2\n\n"
    out = b"".join(sf.on_chunk(bytes([b]), 0.1).out for b in body) + sf.on_chunk(b"", 0.2).out
    assert out == b"data: keep\n\n"


def test_close_does_not_apply_to_sse() -> None:
    sf = stream("close:after_messages=1", kind="sse")
    assert not sf.on_chunk(b"data: 1\n\n", 0.1).after


def test_read_delay_for_bodies() -> None:
    sf = stream("delay:stream=sse,ms=200,jitter_ms=0", kind="sse", start=False)
    assert sf.read_delay(0.0) == 200  # the read carrying the response headers too
    assert stream("delay:stream=ws,ms=200", kind="sse").read_delay(0.0) == 0
    later = stream("delay:stream=sse,ms=200,after_ms=1000", kind="sse")
    assert later.read_delay(0.5) == 0 and later.read_delay(1.0) == 200
