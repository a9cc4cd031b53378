"""tearline.faults.stream_faults: a stream's life in, effects out (pure; the test supplies the clock)."""

from tearline.faults.effects import Abort, Close, Stall
from tests.fault_streams import stream


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


def test_abort_without_trigger_fires_before_headers() -> None:
    sf = stream("abort:stream=sse", kind="sse", start=False)
    assert [f.effects for f in sf.on_headers(0.0)] == [(Abort(how="fin", to="client"),)]


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
