"""tearline.faults.close."""

import pytest

from tearline.faults.close import CloseFault
from tearline.faults.effects import Close
from tearline.faults.fault import FirePoint
from tearline.faults.params import ParamError


def test_close_effect() -> None:
    f = CloseFault(to="both", code=4001, reason="bye")
    assert f.effects(FirePoint(kind="ws", point="data")) == (Close(code=4001, reason="bye", to="both"),)


@pytest.mark.parametrize("code", [999, 1005, 1006, 1015, 2000, 5000])
def test_close_rejects_codes_that_cannot_be_sent(code: int) -> None:
    with pytest.raises(ParamError) as e:
        CloseFault(code=code)
    assert e.value.key == "code"


def test_close_reason_limit() -> None:
    with pytest.raises(ParamError) as e:
        CloseFault(reason="x" * 124)
    assert e.value.key == "reason"
    CloseFault(reason="é" * 61)  # 122 bytes
