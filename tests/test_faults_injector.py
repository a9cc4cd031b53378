"""tearline.faults.injector: the faults of a proxy run across streams (pure), and its re-exports."""

from tearline.faults.effects import Respond
from tearline.faults.injector import Injector
from tearline.faults.scenario import parse_one_line


def test_respond_and_times_first_k_streams() -> None:
    inj = Injector([parse_one_line("respond:status=503,times=2")], seed_source=lambda: 1)
    got = []
    for i in range(4):
        sf = inj.open_stream(f"s{i}", "sse", 0.0)
        got.append([e for f in sf.on_request(0.0) for e in f.effects])
    assert got == [[Respond(status=503)], [Respond(status=503)], [], []]


def test_disarmed_fault_does_not_fire() -> None:
    inj = Injector([parse_one_line("close:after_messages=1")], seed_source=lambda: 1)
    inj.faults["cli#1"].armed = False
    sf = inj.open_stream("s", "ws", 0.0)
    sf.start(0.0)
    assert not sf.on_message("server", 1, "x", 0.1).after


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


def test_the_engine_names_are_still_importable_from_the_injector() -> None:
    from tearline.faults import armed, body_faults, injector, stream_faults

    assert injector.StreamFaults is stream_faults.StreamFaults
    assert injector.ChunkDecision is body_faults.ChunkDecision
    assert (injector.FaultSpec, injector.Firing, injector.ArmedFault) == (
        armed.FaultSpec,
        armed.Firing,
        armed.ArmedFault,
    )
