"""tearline.faults.delay."""

import pytest

from tearline.faults.delay import DelayFault
from tearline.faults.effects import Delay
from tearline.faults.fault import FirePoint
from tearline.faults.params import ParamError


def test_delay_with_jitter_uses_the_draw() -> None:
    f = DelayFault(ms=100, jitter_ms=50)
    assert f.effects(FirePoint(kind="ws", point="data", rand=0.0)) == (Delay(ms=100),)
    assert f.effects(FirePoint(kind="ws", point="data", rand=0.5)) == (Delay(ms=125),)


@pytest.mark.parametrize(
    ("on", "point"), [("messages", "data"), ("handshake", "request"), ("headers", "headers")]
)
def test_delay_points(on: str, point: str) -> None:
    assert DelayFault(ms=1, on=on).points == (point,)


def test_delay_rejects_negative() -> None:
    with pytest.raises(ParamError) as e:
        DelayFault(ms=-1)
    assert e.value.key == "ms"
