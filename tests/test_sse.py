"""The incremental SSE parser: every split point, line ends, comments, id/retry, partial events."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from tearline.lab.servers import sse_event_bytes
from tearline.sse import SseParser

STREAM = (
    b"retry: 1500\n"
    b": a comment\n"
    b"event: tick\nid: 7\ndata: one\ndata: two\n\n"
    b"data: plain\n\n"
    b"id\ndata: no-id-value\n\n"
)


def parse_all(chunks: list[bytes]):
    p = SseParser()
    out = []
    for c in chunks:
        out += p.feed(c)
    return out, p


def test_whole_stream_in_one_chunk():
    evs, p = parse_all([STREAM])
    assert [(e.event, e.data, e.id, e.retry) for e in evs] == [
        ("tick", "one\ntwo", "7", 1500),
        ("message", "plain", None, None),
        ("message", "no-id-value", "", None),
    ]
    assert [e.index for e in evs] == [0, 1, 2]
    assert evs[0].data_len == len("one\ntwo")
    assert evs[0].comments == 1 and p.comments == 1
    assert evs[1].last_id == "7"
    assert p.finish() is None


def test_every_two_way_split_gives_the_same_events():
    whole, _ = parse_all([STREAM])
    for i in range(len(STREAM) + 1):
        evs, _ = parse_all([STREAM[:i], STREAM[i:]])
        assert evs == whole, i


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=8),
    st.sampled_from(["\n", "\r\n", "\r"]),
)
def test_any_chunking_and_line_end(cuts, nl):
    data = STREAM.replace(b"\n", nl.encode())
    bounds = sorted(set([0, len(data), *[min(c, len(data)) for c in cuts]]))
    chunks = [data[a:b] for a, b in itertools.pairwise(bounds)]
    evs, p = parse_all(chunks)
    assert [(e.event, e.data, e.id) for e in evs] == [
        ("tick", "one\ntwo", "7"),
        ("message", "plain", None),
        ("message", "no-id-value", ""),
    ]
    assert p.finish() is None


def test_crlf_split_between_chunks_is_one_line_end():
    evs, _ = parse_all([b"data: a\r", b"\n\r", b"\ndata: b\r\n\r\n"])
    assert [e.data for e in evs] == ["a", "b"]


def test_partial_event_at_end():
    p = SseParser()
    assert [e.data for e in p.feed(b"data: done\n\nevent: x\ndata: hal")] == ["done"]
    assert p.pending
    left = p.finish()
    assert left is not None and left.partial and left.event == "x" and left.data == "hal" and left.index == 1


def test_bom_comment_only_and_no_data_blocks():
    evs, p = parse_all([b"\xef\xbb", b"\xbf: hi\n\nevent: e\n\ndata:x\n\n"])
    assert [(e.event, e.data) for e in evs] == [
        ("message", "x")
    ]  # "event" block without data dispatches nothing
    assert p.comments == 1


def test_bad_retry_and_nul_id_are_ignored():
    evs, _ = parse_all([b"retry: 12a\nid: a\x00b\ndata: d\n\n"])
    assert evs[0].retry is None and evs[0].id is None


def test_lab_server_event_bytes_round_trip():
    data = b"".join(
        sse_event_bytes(i, event="e", ids=True, comment=True, size=20, crlf=True) for i in range(3)
    )
    evs, _ = parse_all([data[i : i + 7] for i in range(0, len(data), 7)])
    assert [(e.id, e.data_len) for e in evs] == [("0", 20), ("1", 20), ("2", 20)]
