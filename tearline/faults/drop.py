"""``drop``: drop matching WebSocket messages, SSE events or body chunks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from tearline.faults.effects import Drop, Effect
from tearline.faults.fault import FirePoint

__all__ = ["DropFault"]


@dataclass(frozen=True, kw_only=True, slots=True)
class DropFault:
    """Do not pass on the messages (SSE events, chunks) the trigger selects; the rest flow."""

    name: ClassVar[str] = "drop"
    summary: ClassVar[str] = "Drop matching WebSocket messages, SSE events or chunks."
    streams: ClassVar[tuple[str, ...]] = ("ws", "sse", "http-stream")
    mode: ClassVar[str] = "each"
    ends: ClassVar[bool] = False  # it shapes the stream; whatever ends it afterwards is not it by itself
    points: ClassVar[tuple[str, ...]] = ("data",)

    def effects(self, at: FirePoint) -> tuple[Effect, ...]:
        return (Drop(),)
