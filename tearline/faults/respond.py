"""``respond``: answer the upgrade or stream request from the proxy (502, 503, 504 ...) or refuse it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from tearline.faults.effects import Effect, Respond
from tearline.faults.fault import FirePoint
from tearline.faults.params import ParamError, param

__all__ = ["RespondFault"]


@dataclass(frozen=True, kw_only=True, slots=True)
class RespondFault:
    """The request never reaches the upstream: the browser gets HTTP ``status`` with ``body``,
    or with ``status = "refuse"`` its connection is closed with no response (ERR_EMPTY_RESPONSE)."""

    name: ClassVar[str] = "respond"
    summary: ClassVar[str] = 'Answer the request with a status (502, 503, 504 ...) or "refuse" it.'
    streams: ClassVar[tuple[str, ...]] = ("ws", "sse", "http-stream")
    mode: ClassVar[str] = "once"
    ends: ClassVar[bool] = True  # it ends the stream (or its connection) itself
    points: ClassVar[tuple[str, ...]] = ("request",)

    status: int | str = field(
        default=503, metadata=param('HTTP status 200-599, or "refuse"', kind="int|str", choices=())
    )
    body: str = field(default="", metadata=param("response body (text/plain)", kind="str"))

    def __post_init__(self) -> None:
        if isinstance(self.status, str):
            if self.status != "refuse":
                raise ParamError("status", f"{self.status!r} is not allowed", ("200-599", "refuse"))
        elif isinstance(self.status, bool) or not 200 <= self.status <= 599:
            raise ParamError("status", f"{self.status!r} is out of range: must be 200-599 or 'refuse'")

    def effects(self, at: FirePoint) -> tuple[Effect, ...]:
        status = None if self.status == "refuse" else int(self.status)
        return (Respond(status=status, body=self.body),)
