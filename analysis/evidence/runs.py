"""Runs of WebSocket messages: the bulk of a long capture, folded per stream while it is read.

A capture of an hour carries millions of ``ws_message`` lines. Most are plain: a text message, no
payload kept, not tampered with. ``load_capture(path, fold=True)`` (what the diagnosis reads) keeps
those as *runs* instead of one ``Observation`` each: one ``MessageRun`` per stream and direction
(and per URL and leg the stream had when the message came), holding columns of the messages'
times, raw times, sizes and line numbers (8 bytes each, against about 400 for an observation).
Every other event, and every message that is not plain, stays an ``Observation``.

A run's message ``i`` *is* the observation ``run.observation(i)`` the event path makes of it (same
fields, same ``where``): nothing is lost, and whoever needs a message whole (the evidence of the
last data received) materialises it. The diagnosis reads the runs through counts, sums, first
and last times and gaps (``analysis/diagnose/parts.py DataSummary``) and draws the timeline from
the columns; ``SourceRecord.all_observations()`` gives the unfolded list.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from tearline.analysis.evidence.observation import Observation

__all__ = ["RUN_KINDS", "MessageRun", "line_of", "merge_in_order"]

RUN_KINDS = frozenset({"ws_frame_sent", "ws_frame_received"})


def line_of(o: Observation) -> int:
    """The line number of a capture observation's ``where`` ("line 12" -> 12), 0 for other places."""
    where = o.where or ""
    return int(where[5:]) if where.startswith("line ") and where[5:].isdigit() else 0


@dataclass(eq=False)
class MessageRun:
    """Plain text messages of one stream in one direction, with the URL and leg they were seen with,
    in file order. Columns are ``array`` while the capture is read, ``numpy`` arrays after ``freeze``."""

    stream_key: str
    kind: str  # ws_frame_sent (from the browser) / ws_frame_received (to it)
    direction: str  # client / server
    url: str | None
    leg: str | None
    # the columns: ``array`` while the capture is read, numpy arrays after ``freeze`` (hence ``Any``)
    t: Any = field(default_factory=lambda: array("d"))  # wall time (started + ts)
    raw_t: Any = field(default_factory=lambda: array("d"))  # the proxy's mono clock
    size: Any = field(default_factory=lambda: array("q"))
    line: Any = field(default_factory=lambda: array("q"))

    def appenders(self) -> tuple[Callable[[Any], None], ...]:
        """The ``append`` of each column (t, raw_t, size, line), for a reader adding millions."""
        return self.t.append, self.raw_t.append, self.size.append, self.line.append

    def freeze(self) -> None:
        """The columns as numpy arrays (no copy)."""
        self.t = np.frombuffer(self.t, dtype=np.float64)
        self.raw_t = np.frombuffer(self.raw_t, dtype=np.float64)
        self.size = np.frombuffer(self.size, dtype=np.int64)
        self.line = np.frombuffer(self.line, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.t)

    def shifted(self, offset: float) -> MessageRun:
        """A copy with ``offset`` seconds added to every wall time (``align.apply_offsets``)."""
        return MessageRun(
            self.stream_key,
            self.kind,
            self.direction,
            self.url,
            self.leg,
            np.asarray(self.t) + offset,
            self.raw_t,
            self.size,
            self.line,
        )

    def observation(self, i: int) -> Observation:
        """Message ``i`` as the observation the event path makes of it."""
        return Observation(
            source="capture",
            kind=self.kind,
            t=float(self.t[i]),
            raw_t=float(self.raw_t[i]),
            where=f"line {int(self.line[i])}",
            stream_key=self.stream_key,
            url=self.url,
            leg=self.leg,
            size=int(self.size[i]),
            direction=self.direction,
            text="text",
        )

    def observations(self) -> list[Observation]:
        return [self.observation(i) for i in range(len(self))]

    def first_key(self) -> tuple[float, int]:
        """``(t, line)`` of the message that comes first in time order (file order among equal times)."""
        i = int(np.argmin(self.t))
        return float(self.t[i]), int(self.line[i])


def merge_in_order(obs: Sequence[Observation], runs: Sequence[MessageRun]) -> list[Observation]:
    """``obs`` (in time order, file order among equal times) and the runs' messages materialised, in
    the order the unfolded capture had them: by time, then line."""
    if not runs:
        return list(obs)
    every = [*obs, *(o for r in runs for o in r.observations())]
    return sorted(every, key=lambda o: (o.t, line_of(o)))
