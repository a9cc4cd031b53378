"""tearline.faults.framing: SSE event boundaries, fed whole, byte at a time and split."""

import pytest

from tearline.faults.framing import SseSplitter, sse_event_name

STREAM = b"event: a\ndata: 1\n\ndata: 2\r\n\r\n: comment\nevent: b\ndata: 3\n\npartial"


def feed_all(chunks: list[bytes]) -> tuple[list[tuple[str | None, str | None]], bytes]:
    s = SseSplitter()
    events, passed = [], b""
    for c in chunks:
        for p in s.feed(c):
            passed += p.data
            if p.complete:
                events.append((p.name, p.text))
    return events, passed


@pytest.mark.parametrize("split", ["whole", "bytes", "halves"])
def test_events_found_however_the_body_is_split(split: str) -> None:
    if split == "whole":
        chunks = [STREAM]
    elif split == "bytes":
        chunks = [bytes([b]) for b in STREAM]
    else:
        chunks = [STREAM[:7], STREAM[7:30], STREAM[30:]]
    events, passed = feed_all(chunks)
    assert [n for n, _ in events] == ["a", "message", "b"]
    assert events[1][1] == "data: 2"
    assert passed == STREAM  # pieces cover every byte, in order


def test_pending_holds_the_open_event() -> None:
    s = SseSplitter()
    s.feed(b"data: 1\n\ndata: 2")
    assert s.pending == b"data: 2"


def test_event_name() -> None:
    assert sse_event_name("event:x\ndata: 1") == "x"
    assert sse_event_name("data: 1") == "message"
