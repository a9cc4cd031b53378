"""tearline.faults.reset."""

from tearline.faults.effects import Abort
from tearline.faults.fault import FirePoint
from tearline.faults.reset import ResetFault


def test_reset_is_an_rst_to_the_named_side() -> None:
    assert ResetFault(to="server").effects(FirePoint(kind="ws", point="timer")) == (
        Abort(how="rst", to="server"),
    )
    assert ResetFault().to == "client"
