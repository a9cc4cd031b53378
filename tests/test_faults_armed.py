"""tearline.faults.armed: a spec's parameters, the armed state, seeded draws (pure)."""

import random

from tearline.faults.armed import ArmedFault
from tearline.faults.scenario import parse_one_line


def test_params_are_the_fault_and_the_trigger_keys_set_plus_the_seed() -> None:
    spec = parse_one_line("close:stream=ws,after_messages=3,to=client,code=4001")
    assert spec.action == "close"
    params = ArmedFault(spec=spec, seed=9).params()
    assert params["code"] == 4001 and params["to"] == "client" and params["after_messages"] == 3
    assert params["seed"] == 9 and "probability" not in params  # trigger keys left at their default


def test_times_limits_the_streams_a_fault_may_fire_on() -> None:
    af = ArmedFault(spec=parse_one_line("respond:status=503,times=2"), seed=1)
    assert af.may_fire("a")
    af.streams.update({"a", "b"})
    assert af.may_fire("a") and not af.may_fire("c")  # the streams it fired on keep it
    af.armed = False
    assert not af.may_fire("a")


def test_draws_follow_the_seed() -> None:
    spec = parse_one_line("drop:probability=0.25")
    af = ArmedFault(spec=spec, seed=3)
    rng = random.Random(3)
    assert [af.draw() for _ in range(30)] == [rng.random() < 0.25 for _ in range(30)]
    assert all(ArmedFault(spec=parse_one_line("drop:regex=x"), seed=3).draw() for _ in range(5))
