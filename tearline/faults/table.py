"""``FAULTS``: every fault tearline can inject, by the name scenarios use in ``action``."""

from __future__ import annotations

from typing import Any

from tearline.faults.abort import AbortFault
from tearline.faults.close import CloseFault
from tearline.faults.delay import DelayFault
from tearline.faults.drop import DropFault
from tearline.faults.goaway import GoAwayFault
from tearline.faults.idle_timeout import IdleTimeoutFault
from tearline.faults.reset import ResetFault
from tearline.faults.respond import RespondFault
from tearline.faults.stall import StallFault
from tearline.faults.throttle import ThrottleFault
from tearline.faults.truncate import TruncateFault

__all__ = ["FAULTS"]

FAULTS: dict[str, type[Any]] = {
    "close": CloseFault,
    "abort": AbortFault,
    "reset": ResetFault,
    "truncate": TruncateFault,
    "delay": DelayFault,
    "stall": StallFault,
    "drop": DropFault,
    "throttle": ThrottleFault,
    "respond": RespondFault,
    "idle_timeout": IdleTimeoutFault,
    "goaway": GoAwayFault,
}
