"""tearline.faults.injector: traffic in, effects out (pure; the test supplies the clock)."""

from tearline.faults.effects import Abort, Close, Respond, Stall, Truncate
from tearline.faults.injector import Injector, StreamFaults
from tearline.faults.scenario import parse_one_line

SSE = b"".join(b"id: %d\ndata: event %d\n\n" % (i, i) for i in range(6))


def stream(*lines: str, kind: str = "ws", start: bool = True) -> StreamFaults:
    inj = Injector([parse_one_line(line, i) for i, line in enumerate(lines, 1)], seed_source=lambda: 1)
    sf = inj.open_stream("s1", kind, 0.0)
    if start:
        sf.start(0.0)
    return sf


def test_close_after_third_server_message() -> None:
    sf = stream("close:stream=ws,direction=server,after_messages=3,to=client,code=4001")
    assert not sf.on_message("client", 3, "hi", 0.1).after  # client messages do not count
    assert not sf.on_message("server", 3, "a", 0.2).after
    assert not sf.on_message("server", 3, "b", 0.3).after
    dec = sf.on_message("server", 3, "c", 0.4)
    assert [e for f in dec.after for e in f.effects] == [Close(code=4001, reason="", to="client")]
    assert "message 3 from server" in dec.after[0].trigger
    assert sf.ended and not sf.on_message("server", 3, "d", 0.5).after  # once


def test_timer_fires_on_a_chatty_stream() -> None:
    sf = stream("reset:stream=ws,after_ms=500")
    for i in range(20):  # a heartbeat every 20 ms does not postpone it
        sf.on_message("server", 2, "hb", i * 0.02)
    assert sf.next_deadline(0.4) == 0.5
    fired = sf.on_timer(0.5)
    assert [f.effects for f in fired] == [(Abort(how="rst", to="client"),)]


def test_idle_timeout_is_postponed_by_traffic() -> None:
    sf = stream("idle_timeout:ms=300,how=rst")
    sf.on_message("server", 1, "x", 0.2)
    assert sf.next_deadline(0.2) == 0.5
    assert sf.on_timer(0.45) == []
    assert [f.action for f in sf.on_timer(0.5)] == ["idle_timeout"]


def test_respond_and_times_first_k_streams() -> None:
    inj = Injector([parse_one_line("respond:status=503,times=2")], seed_source=lambda: 1)
    got = []
    for i in range(4):
        sf = inj.open_stream(f"s{i}", "sse", 0.0)
        got.append([e for f in sf.on_request(0.0) for e in f.effects])
    assert got == [[Respond(status=503)], [Respond(status=503)], [], []]


def test_abort_without_trigger_fires_before_headers() -> None:
    sf = stream("abort:stream=sse", kind="sse", start=False)
    assert [f.effects for f in sf.on_headers(0.0)] == [(Abort(how="fin", to="client"),)]


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


def test_delay_and_throttle_due_times() -> None:
    sf = stream("delay:stream=ws,direction=server,ms=100")
    assert sf.on_message("server", 10, "a", 1.0).due == 1.1
    assert sf.on_message("client", 10, "b", 1.0).due is None
    tf = stream("throttle:stream=ws,direction=server,bytes_per_s=1000")
    dues = [tf.on_message("server", 100, "x", 0.0).due for _ in range(3)]
    assert dues == [0.1, 0.2, 0.30000000000000004]


def test_each_fault_recorded_once_per_stream_but_drops_every_time() -> None:
    sf = stream("delay:ms=10", "drop:regex=^bad")
    records = [
        f.action for i in range(3) for f in sf.on_message("server", 3, "bad" if i else "ok", 0.0).firings
    ]
    assert records == ["delay", "drop", "drop"]


def test_probability_is_reproducible_with_a_seed() -> None:
    def run() -> list[bool]:
        sf = stream("drop:probability=0.5,seed=42")
        return [sf.on_message("server", 1, "x", 0.0).drop for _ in range(50)]

    first = run()
    assert first == run() and 5 < sum(first) < 45


def test_seed_recorded_in_params() -> None:
    sf = stream("stall:ms=100,after_messages=1")
    dec = sf.on_message("server", 1, "x", 0.1)
    assert dec.after[0].effects == (Stall(ms=100, to="both"),) and dec.after[0].params["seed"] == 1


def test_fire_command_ignores_the_trigger() -> None:
    sf = stream("close:after_messages=100,code=4005")
    f = sf.fire("cli#1")
    assert f is not None and f.effects == (Close(code=4005, reason="", to="client"),)
    assert sf.fire("cli#1") is None  # the stream has ended


def test_disarmed_fault_does_not_fire() -> None:
    inj = Injector([parse_one_line("close:after_messages=1")], seed_source=lambda: 1)
    inj.faults["cli#1"].armed = False
    sf = inj.open_stream("s", "ws", 0.0)
    sf.start(0.0)
    assert not sf.on_message("server", 1, "x", 0.1).after


def test_close_does_not_apply_to_sse() -> None:
    sf = stream("close:after_messages=1", kind="sse")
    assert not sf.on_chunk(b"data: 1\n\n", 0.1).after


def test_read_delay_for_bodies() -> None:
    sf = stream("delay:stream=sse,ms=200,jitter_ms=0", kind="sse", start=False)
    assert sf.read_delay(0.0) == 200  # the read carrying the response headers too
    assert stream("delay:stream=ws,ms=200", kind="sse").read_delay(0.0) == 0
    later = stream("delay:stream=sse,ms=200,after_ms=1000", kind="sse")
    assert later.read_delay(0.5) == 0 and later.read_delay(1.0) == 200


def test_once_fault_probability_per_stream_is_reproducible() -> None:
    def run() -> list[bool]:
        inj = Injector([parse_one_line("reset:after_messages=1,probability=0.3,seed=5")])
        out = []
        for i in range(40):
            sf = inj.open_stream(f"s{i}", "ws", 0.0)
            sf.start(0.0)
            out.append(bool(sf.on_message("server", 1, "x", 0.1).after))
        return out

    first = run()
    assert first == run() and 3 < sum(first) < 25
