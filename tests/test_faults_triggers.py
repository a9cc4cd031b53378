"""tearline.faults.triggers: trigger keys and per-stream counting."""

import pytest

from tearline.faults.params import ParamError
from tearline.faults.triggers import Trigger, TriggerState


def test_defaults_fire_immediately() -> None:
    t = Trigger()
    assert t.describe() == "immediately" and t.as_params() == {} and t.max_streams is None


@pytest.mark.parametrize(("times", "limit"), [(None, None), ("always", None), ("once", 1), (3, 3)])
def test_times(times: object, limit: int | None) -> None:
    assert Trigger(times=times).max_streams == limit  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kw", "key"),
    [
        ({"stream": "websocket"}, "stream"),
        ({"direction": "up"}, "direction"),
        ({"after_messages": -1}, "after_messages"),
        ({"probability": 1.5}, "probability"),
        ({"times": 0}, "times"),
        ({"times": "twice"}, "times"),
        ({"regex": "("}, "regex"),
        ({"after_ms_from": "close"}, "after_ms_from"),
    ],
)
def test_bad_values_name_the_key(kw: dict[str, object], key: str) -> None:
    with pytest.raises(ParamError) as e:
        Trigger(**kw)  # type: ignore[arg-type]
    assert e.value.key == key


def test_counts_only_the_direction_and_matches() -> None:
    st = TriggerState(trigger=Trigger(direction="server", regex="tick", after_messages=2), opened=0.0)
    assert st.unit_matches("server", "tick 1", None)
    assert not st.unit_matches("client", "tick 1", None)
    assert not st.unit_matches("server", "tock", None)
    assert not st.unit_matches("server", None, None)  # binary message: no text to match
    st.count(5)
    assert not st.counts_reached()
    st.count(5)
    assert st.counts_reached() and st.bytes == 10


def test_event_name() -> None:
    st = TriggerState(trigger=Trigger(event="done"), opened=0.0)
    assert st.unit_matches("server", "x", "done") and not st.unit_matches("server", "x", "message")


def test_timer_from_open_or_first_data() -> None:
    st = TriggerState(trigger=Trigger(after_ms=500), opened=10.0)
    assert st.deadline() == 10.5 and not st.time_reached(10.4) and st.time_reached(10.5)
    st2 = TriggerState(trigger=Trigger(after_ms=500, after_ms_from="first_data"), opened=10.0)
    assert st2.deadline() is None and not st2.time_reached(100.0)
    st2.first_data = 12.0
    assert st2.deadline() == 12.5


def test_describe() -> None:
    t = Trigger(direction="server", after_messages=3, after_ms=200, probability=0.5)
    assert t.describe() == "after_messages=3 (server), after_ms=200 from open, probability=0.5"
