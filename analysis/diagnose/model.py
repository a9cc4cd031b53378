"""What a diagnosis produces, and what reports consume.

``diagnose(...)`` in ``analysis/diagnose/diagnosis.py`` returns a ``Diagnosis``: one
``StreamDiagnosis`` per WebSocket / SSE / streaming request found in the
evidence, each with its most likely ``Cause`` and the alternatives, plus the
sources read with their clock offsets and an aligned ``timeline`` DataFrame
the report draws.

Cause kinds (``CAUSE_KINDS``) and actors (``ACTORS``) are a fixed vocabulary;
docs/diagnosis.md explains each.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd  # imported where a frame is built: `diagnose --json` never loads pandas

__all__ = [
    "ACTORS",
    "CAUSE_KINDS",
    "EXPECTED_KINDS",
    "FAULT_MECHANISMS",
    "OUTCOMES",
    "Cause",
    "Diagnosis",
    "Evidence",
    "SourceSummary",
    "StreamDiagnosis",
]

CAUSE_KINDS: dict[str, str] = {
    "clean_close": "the stream ended the way its protocol intends (close handshake, complete body)",
    "client_navigation": "the page unloaded or navigated away while the stream was open",
    "client_app_close": "page code closed or aborted the stream while the page stayed",
    "server_going_away": "a server or proxy closed cleanly announcing shutdown, restart or reload (e.g. 1001)",
    "server_abrupt_close": "the TCP connection or body ended with no proper close",
    "connection_reset": "a TCP reset ended the connection",
    "proxy_timeout": "an intermediary's timer ended the stream",
    "upstream_unavailable": "the upstream could not be reached or answered 502/503/504",
    "protocol_error": "a peer broke the protocol",
    "stall": "data stopped while the stream stayed open",
    "in_band_error": "the stream ended cleanly at HTTP level but reported a failure inside it (AG-UI RUN_ERROR, "
    "an error event) and no deeper hop shows why",
    "injected_fault": "tearline itself injected the fault that ended the stream",
    "unknown": "the evidence does not say",
}

ACTORS: tuple[str, ...] = ("browser", "page", "proxy", "server", "network", "tearline", "unknown")

# Cause kinds that are how a stream is meant to end: the page or browser chose it, or the protocol finished.
# A stream that ended so "ended as expected"; every other end is a *fault*. A renderer crash is reported as
# client_navigation (the page went away) but is a fault: its cause carries ``details["mechanism"]`` =
# ``"renderer crash"`` (``FAULT_MECHANISMS``).
EXPECTED_KINDS: tuple[str, ...] = ("clean_close", "client_navigation", "client_app_close")
FAULT_MECHANISMS: tuple[str, ...] = ("renderer crash",)
OUTCOMES: dict[str, str] = {
    "fault": "the stream ended by a failure somewhere on its path (or the evidence does not say how)",
    "expected": "the stream ended as expected: the page left or closed it, or it finished",
    "open": "the stream was still open when the recording ended",
}


@dataclass(frozen=True, kw_only=True, slots=True)
class Evidence:
    """One line of evidence: where it came from, when, and what was seen."""

    source: str  # "netlog", "cdp", "har", "console", "caddy", "capture", or a file name
    t: float | None  # aligned wall-clock epoch seconds
    text: str  # what was seen, for a person
    where: str | None = None  # place in the source file


@dataclass(frozen=True, kw_only=True, slots=True)
class Cause:
    kind: str  # one of CAUSE_KINDS
    actor: str  # one of ACTORS
    summary: str  # one sentence for a person
    confidence: float  # 0..1
    evidence: tuple[Evidence, ...] = ()
    rule: str = ""  # name of the rule that produced it
    # typed facts about the cause, for reports and tools: "timer" (its name), "measured" (seconds),
    # "clock" (what the timer counts from: open, idle, server_idle, client_idle, reload), "configured"
    # (seconds), "inferred_from" (config, recorded option, known default, repeats), "mechanism" (e.g.
    # "page gave up", "renderer crash"), "in_band" (the failure event's type), "hop" (the deeper hop).
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def expected(self) -> bool:
        """The stream ended the way it is meant to (``EXPECTED_KINDS``), not by a fault."""
        return self.kind in EXPECTED_KINDS and self.details.get("mechanism") not in FAULT_MECHANISMS

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "actor": self.actor,
            "summary": self.summary,
            "confidence": round(self.confidence, 3),
            "expected": self.expected,
            "details": dict(self.details),
            "rule": self.rule,
            "evidence": [
                {"source": e.source, "t": e.t, "text": e.text, "where": e.where} for e in self.evidence
            ],
        }


@dataclass(frozen=True, kw_only=True, slots=True)
class StreamDiagnosis:
    id: str  # stable id within this diagnosis, e.g. "s1"
    url: str
    kind: str  # "ws", "sse", "http-stream"
    opened_at: float | None
    ended_at: float | None
    cause: Cause
    alternatives: tuple[Cause, ...] = ()
    abnormal: bool = False  # a fault: True unless the stream ended as expected or is still open
    outcome: str = ""  # one of OUTCOMES; when not given: "fault" if abnormal, else "expected" or "open"
    sources: tuple[str, ...] = ()  # which sources saw this stream
    stats: dict[str, Any] = field(default_factory=dict)  # messages/bytes per direction, last activity...

    def __post_init__(self) -> None:
        if not self.outcome:
            outcome = "fault" if self.abnormal else ("open" if self.ended_at is None else "expected")
            object.__setattr__(self, "outcome", outcome)
        assert self.outcome in OUTCOMES, self.outcome

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": self.url,
            "kind": self.kind,
            "opened_at": self.opened_at,
            "ended_at": self.ended_at,
            "abnormal": self.abnormal,
            "outcome": self.outcome,
            "sources": list(self.sources),
            "stats": self.stats,
            "cause": self.cause.to_dict(),
            "alternatives": [c.to_dict() for c in self.alternatives],
        }


@dataclass(frozen=True, kw_only=True, slots=True)
class SourceSummary:
    name: str  # source kind
    path: str
    observations: int
    clock: str  # how its times were put on the wall clock
    offset: float  # seconds added by refinement on top of the source's own rule
    residual_skew: float | None  # seconds; spread left after refinement, None when unmatched
    warnings: tuple[str, ...] = ()


class _Built:
    """A field given either its value or a function that builds it, built the first time it is read:
    ``diagnose --json`` never reads the timeline, a report does (a million rows cost a second)."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.slot = f"_{name}"

    def __get__(self, obj: object, owner: type | None = None) -> pd.DataFrame:
        if obj is None:
            raise AttributeError(self.slot)  # no default (dataclasses asks the class)
        value = obj.__dict__[self.slot]
        if callable(value):
            value = obj.__dict__[self.slot] = value()
        return value  # type: ignore[no-any-return]

    def __set__(self, obj: object, value: pd.DataFrame | Callable[[], pd.DataFrame]) -> None:
        obj.__dict__[self.slot] = value


@dataclass
class Diagnosis:
    streams: list[StreamDiagnosis]
    sources: list[SourceSummary]
    # The aligned timeline the report draws (given as a frame, or a function that builds it when first
    # read). Columns:
    #   t (float, wall epoch s), source (str), stream (str|None: StreamDiagnosis.id),
    #   leg (str|None: "client"/"server" for proxy captures), kind (str: Observation kind),
    #   direction (str|None), size (float|NaN), code (float|NaN), text (str|None),
    #   url (str|None: Observation.url, e.g. a navigation's destination; unredacted, scrub before showing)
    timeline: _Built = _Built()
    notes: list[str] = field(default_factory=list)

    @property
    def faults(self) -> list[StreamDiagnosis]:
        return [s for s in self.streams if s.outcome == "fault"]

    @property
    def expected_ends(self) -> list[StreamDiagnosis]:
        return [s for s in self.streams if s.outcome == "expected"]

    def counts_sentence(self) -> str:
        """'3 streams: 1 fault, 2 ended as expected' (and how many are still open)."""
        n = len(self.streams)
        faults, expected = len(self.faults), len(self.expected_ends)
        still = n - faults - expected
        out = f"{n} stream{'s' if n != 1 else ''}: {faults} fault{'s' if faults != 1 else ''}"
        out += f", {expected} ended as expected"
        if still:
            out += f", {still} still open"
        return out

    @property
    def first_abnormal(self) -> StreamDiagnosis | None:
        """The first fault (by end time)."""
        ended = [s for s in self.streams if s.abnormal]
        return min(ended, key=lambda s: s.ended_at or float("inf"), default=None)

    def to_dict(self) -> dict[str, Any]:
        first = self.first_abnormal
        return {
            "streams": [s.to_dict() for s in self.streams],
            "first_abnormal": first.id if first else None,
            "counts": {
                "streams": len(self.streams),
                "faults": len(self.faults),
                "expected": len(self.expected_ends),
            },
            "sources": [
                {
                    "name": s.name,
                    "path": s.path,
                    "observations": s.observations,
                    "clock": s.clock,
                    "offset": s.offset,
                    "residual_skew": s.residual_skew,
                    "warnings": list(s.warnings),
                }
                for s in self.sources
            ],
            "notes": list(self.notes),
        }
