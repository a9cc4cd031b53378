"""How a WebSocket ended, as a table-driven state machine (pure).

Inputs, in the order the proxy saw them (``WsInput``):

``frame``   a peer sent a close frame (``side`` = ``"client"``/``"server"``, code, reason)
``proxy``   the proxy (mitmproxy or a tearline fault) sent a close frame on its own
            behalf (first) or answered a peer's close for the other side (later)
``drop``    a side's TCP connection ended (``how`` = fin / rst / timeout / error)

States: ``open`` -> ``closing`` (first close frame sent, waiting for the answer) ->
``closed`` (answered); or ``open`` -> ``dropped`` (a connection ended before any
close frame). ``TRANSITIONS`` maps ``(state, input kind)`` to the next state and
what the input means; ``ws_close_fields`` folds a whole sequence into the fields
of a ``WsClose`` event.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["TRANSITIONS", "WsInput", "WsLifecycle", "ws_close_fields"]

NO_FRAME_CODE = 1006  # what APIs report when there was no close frame (never sent on the wire)


@dataclass(frozen=True, slots=True)
class WsInput:
    kind: str  # "frame" | "proxy" | "drop"
    side: str  # "client" | "server" (for "proxy": the side the frame was sent TO)
    code: int | None = None
    reason: str = ""
    how: str | None = None  # for "drop": fin / rst / timeout / error / closed
    t: float | None = None


# (state, kind) -> (next state, effect). Effects:
#   "first"   this input is the first close (sets code/reason/closed_by)
#   "answer"  this input answers the first close frame
#   "drop"    a connection ended with no close frame at all (sets code 1006, frame=False)
#   "late"    a connection ended after the close began (kept as the transport end only)
#   "ignore"  nothing new
TRANSITIONS: dict[tuple[str, str], tuple[str, str]] = {
    ("open", "frame"): ("closing", "first"),
    ("open", "proxy"): ("closing", "first"),
    ("open", "drop"): ("dropped", "drop"),
    ("closing", "frame"): ("closed", "answer"),
    ("closing", "proxy"): ("closed", "answer"),
    ("closing", "drop"): ("closing", "late"),
    ("closed", "frame"): ("closed", "ignore"),
    ("closed", "proxy"): ("closed", "ignore"),
    ("closed", "drop"): ("closed", "late"),
    ("dropped", "frame"): ("dropped", "ignore"),
    ("dropped", "proxy"): ("dropped", "ignore"),
    ("dropped", "drop"): ("dropped", "late"),
}


@dataclass
class WsLifecycle:
    """Fold ``WsInput`` s one at a time; read the ``WsClose`` fields from ``fields()``."""

    state: str = "open"
    code: int | None = None
    reason: str = ""
    closed_by: str | None = None
    frame: bool = False
    answered: bool | None = None
    answered_by: str | None = None
    transport_end: str | None = None  # how the first connection to end ended
    _first_side: str | None = None

    def feed(self, inp: WsInput) -> str:
        """Apply one input; returns the effect name from ``TRANSITIONS``."""
        nxt, effect = TRANSITIONS[(self.state, inp.kind)]
        if effect == "first":
            self.code, self.reason, self.frame = inp.code, inp.reason, True
            # a proxy frame is sent TO a side; the closer is the proxy
            self.closed_by = "proxy" if inp.kind == "proxy" else inp.side
            self._first_side = inp.side
            self.answered = False
        elif effect == "answer":
            if inp.kind == "frame" and inp.side == self._first_side and self.closed_by != "proxy":
                return "ignore"  # the closer repeating itself is not an answer
            self.answered = True
            self.answered_by = "proxy" if inp.kind == "proxy" else inp.side
        elif effect == "drop":
            self.code, self.reason, self.frame = NO_FRAME_CODE, "", False
            self.closed_by = inp.side
            self.answered = None
            self.transport_end = inp.how
        elif effect == "late" and self.transport_end is None:
            self.transport_end = inp.how
        self.state = nxt
        return effect

    def fields(self) -> dict[str, Any]:
        """Keyword arguments for ``tearline.events.WsClose`` (besides ts/mono/conn/stream)."""
        return {
            "code": self.code,
            "reason": self.reason,
            "closed_by": self.closed_by,
            "frame": self.frame,
            "answered": self.answered,
            "answered_by": self.answered_by,
            "transport_end": self.transport_end,
        }


def ws_close_fields(inputs: Iterable[WsInput]) -> dict[str, Any]:
    """Fold a whole input sequence: the ``WsClose`` fields."""
    lc = WsLifecycle()
    for inp in inputs:
        lc.feed(inp)
    return lc.fields()
