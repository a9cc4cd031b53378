"""tearline.faults.respond."""

import pytest

from tearline.faults.effects import Respond
from tearline.faults.fault import FirePoint
from tearline.faults.params import ParamError
from tearline.faults.respond import RespondFault


@pytest.mark.parametrize("status", [502, 503, 504])
def test_respond_status(status: int) -> None:
    assert RespondFault(status=status, body="x").effects(FirePoint(kind="ws", point="request")) == (
        Respond(status=status, body="x"),
    )


def test_refuse() -> None:
    assert RespondFault(status="refuse").effects(FirePoint(kind="sse", point="request")) == (
        Respond(status=None),
    )


@pytest.mark.parametrize("status", [199, 600, "deny", True])
def test_bad_status(status: object) -> None:
    with pytest.raises(ParamError) as e:
        RespondFault(status=status)  # type: ignore[arg-type]
    assert e.value.key == "status"
