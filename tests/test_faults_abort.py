"""tearline.faults.abort."""

import pytest

from tearline.faults.abort import AbortFault
from tearline.faults.effects import Abort
from tearline.faults.fault import FirePoint
from tearline.faults.params import ParamError


@pytest.mark.parametrize("to", ["client", "server", "both"])
def test_abort_is_a_fin(to: str) -> None:
    assert AbortFault(to=to).effects(FirePoint(kind="sse", point="data")) == (Abort(how="fin", to=to),)  # type: ignore[arg-type]


def test_abort_can_fire_before_headers() -> None:
    assert "headers" in AbortFault().points


def test_abort_rejects_bad_side() -> None:
    with pytest.raises(ParamError, match="not allowed"):
        AbortFault(to="browser")
