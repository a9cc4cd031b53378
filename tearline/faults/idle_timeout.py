"""``idle_timeout``: close a stream after T without traffic, the way a proxy's idle timer does."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from tearline.faults.effects import Abort, Close, Effect
from tearline.faults.fault import FirePoint
from tearline.faults.params import check_choice, check_range, param

__all__ = ["IdleTimeoutFault"]

IDLE_HOW: tuple[str, ...] = ("fin", "rst", "close")


@dataclass(frozen=True, kw_only=True, slots=True)
class IdleTimeoutFault:
    """When neither side has sent a message or chunk for ``ms``, end the stream on both legs:
    FIN (nginx, Caddy), RST, or a WebSocket close frame ``code`` (``how = "close"``; on a body
    stream it falls back to FIN). Any data restarts the timer."""

    name: ClassVar[str] = "idle_timeout"
    summary: ClassVar[str] = "Close a stream after ms without traffic: FIN, RST or a close code."
    streams: ClassVar[tuple[str, ...]] = ("ws", "sse", "http-stream")
    mode: ClassVar[str] = "once"
    ends: ClassVar[bool] = True  # it ends the stream (or its connection) itself
    points: ClassVar[tuple[str, ...]] = ("timer",)

    ms: int = field(metadata=param("idle time before closing", kind="int", unit="ms"))
    how: str = field(default="fin", metadata=param("how both legs end", kind="str", choices=IDLE_HOW))
    code: int = field(default=1001, metadata=param("close code when how = close", kind="int"))
    reason: str = field(default="idle timeout", metadata=param("close reason when how = close", kind="str"))

    def __post_init__(self) -> None:
        check_range("ms", self.ms, 1, 86_400_000)
        check_choice("how", self.how, IDLE_HOW)
        check_range("code", self.code, 1000, 4999)

    def effects(self, at: FirePoint) -> tuple[Effect, ...]:
        if self.how == "close" and at.kind == "ws":
            return (Close(code=self.code, reason=self.reason, to="both"),)
        return (Abort(how="rst" if self.how == "rst" else "fin", to="both"),)
