"""``close``: a WebSocket close frame with a chosen code and reason, then TCP close."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from tearline.faults.effects import TO, Close, Effect
from tearline.faults.fault import FirePoint
from tearline.faults.params import ParamError, check_choice, check_range, param

__all__ = ["CloseFault"]


@dataclass(frozen=True, kw_only=True, slots=True)
class CloseFault:
    """Send a close frame with ``code`` and ``reason`` to the client, the server or both, then
    close TCP; a leg not named by ``to`` gets FIN without a close frame."""

    name: ClassVar[str] = "close"
    summary: ClassVar[str] = "WebSocket close frame with a chosen code and reason, then TCP close."
    streams: ClassVar[tuple[str, ...]] = ("ws",)
    mode: ClassVar[str] = "once"
    ends: ClassVar[bool] = True  # it ends the stream (or its connection) itself
    points: ClassVar[tuple[str, ...]] = ("data", "timer")

    to: str = field(default="client", metadata=param("who gets the close frame", kind="str", choices=TO))
    code: int = field(
        default=1011, metadata=param("close code: 1000-1003, 1007-1014 or 3000-4999", kind="int")
    )
    reason: str = field(default="", metadata=param("close reason, at most 123 bytes UTF-8", kind="str"))

    def __post_init__(self) -> None:
        check_choice("to", self.to, TO)
        check_range("code", self.code, 1000, 4999)
        if self.code in (1004, 1005, 1006, 1015) or 1016 <= self.code < 3000:
            raise ParamError(
                "code", f"{self.code} cannot be sent in a close frame (1005, 1006 and 1015 are local-only)"
            )
        if len(self.reason.encode()) > 123:
            raise ParamError("reason", "is longer than 123 bytes (the close frame limit)")

    def effects(self, at: FirePoint) -> tuple[Effect, ...]:
        return (Close(code=self.code, reason=self.reason, to=self.to),)  # type: ignore[arg-type]
