"""tearline.faults.idle_timeout."""

import pytest

from tearline.faults.effects import Abort, Close
from tearline.faults.fault import FirePoint
from tearline.faults.idle_timeout import IdleTimeoutFault
from tearline.faults.params import ParamError


@pytest.mark.parametrize(
    ("how", "kind", "effect"),
    [
        ("fin", "ws", Abort(how="fin", to="both")),
        ("rst", "sse", Abort(how="rst", to="both")),
        ("close", "ws", Close(code=4008, reason="idle timeout", to="both")),
        ("close", "sse", Abort(how="fin", to="both")),  # no close frames on a body
    ],
)
def test_idle_timeout_ends(how: str, kind: str, effect: object) -> None:
    f = IdleTimeoutFault(ms=100, how=how, code=4008)
    assert f.effects(FirePoint(kind=kind, point="timer")) == (effect,)


def test_idle_timeout_needs_ms() -> None:
    with pytest.raises(TypeError):
        IdleTimeoutFault()  # type: ignore[call-arg]
    with pytest.raises(ParamError):
        IdleTimeoutFault(ms=10, how="close-ish")
