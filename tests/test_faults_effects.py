"""tearline.faults.effects: the decision vocabulary."""

import dataclasses

import pytest

from tearline.faults.effects import (
    Abort,
    Close,
    Delay,
    Drop,
    Forward,
    Respond,
    Stall,
    Throttle,
    Truncate,
    describe,
)


@pytest.mark.parametrize(
    ("effect", "text"),
    [
        (Close(code=4001, reason="bye", to="client"), "close 4001 'bye'"),
        (Close(code=1000), "close 1000"),
        (Abort(how="rst", to="both"), "rst"),
        (Abort(), "fin"),
        (Truncate(keep=10, how="fin"), "cut body after 10 bytes of chunk, fin"),
        (Respond(status=None), "refused (connection closed, no response)"),
        (Respond(status=503, body="x"), "responded 503"),
        (Stall(ms=None), "stall until disarmed"),
        (Stall(ms=250), "stall 250 ms"),
        (Delay(ms=12.5), "delay 12.5 ms"),
        (Throttle(bytes_per_s=1000), "throttle 1000 bytes/s"),
        (Drop(), "drop"),
        (Forward(), "forward"),
    ],
)
def test_describe(effect: object, text: str) -> None:
    assert describe(effect) == text  # type: ignore[arg-type]


def test_effects_are_frozen() -> None:
    c = Close(code=4001)
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.code = 1  # type: ignore[misc]
