"""tearline.faults.stall."""

import pytest

from tearline.faults.effects import Stall
from tearline.faults.fault import FirePoint
from tearline.faults.params import ParamError
from tearline.faults.stall import StallFault


def test_stall_until_disarmed_by_default() -> None:
    assert StallFault().effects(FirePoint(kind="ws", point="data")) == (Stall(ms=None, to="both"),)
    assert StallFault(ms=500, to="client").effects(FirePoint(kind="sse", point="timer")) == (
        Stall(ms=500, to="client"),
    )


def test_stall_ms_positive() -> None:
    with pytest.raises(ParamError):
        StallFault(ms=0)
