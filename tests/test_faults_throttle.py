"""tearline.faults.throttle: the token bucket."""

import pytest

from tearline.faults.effects import Throttle
from tearline.faults.fault import FirePoint
from tearline.faults.params import ParamError
from tearline.faults.throttle import ThrottleFault, release_time


def test_release_time_paces_a_burst() -> None:
    rel = 0.0
    for _ in range(10):
        rel = release_time(rel, 0.0, 1000, 10_000)
    assert rel == pytest.approx(1.0)  # 10 kB at 10 kB/s


def test_idle_link_saves_no_credit() -> None:
    assert release_time(1.0, 5.0, 500, 1000) == pytest.approx(5.5)


def test_throttle_direction_from_the_unit() -> None:
    f = ThrottleFault(bytes_per_s=100)
    assert f.effects(FirePoint(kind="ws", point="data", direction="client")) == (
        Throttle(bytes_per_s=100, direction="client"),
    )
    with pytest.raises(ParamError):
        ThrottleFault(bytes_per_s=0)
