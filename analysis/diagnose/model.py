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

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

__all__ = [
    "ACTORS",
    "CAUSE_KINDS",
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
    "injected_fault": "tearline itself injected the fault that ended the stream",
    "unknown": "the evidence does not say",
}

ACTORS: tuple[str, ...] = ("browser", "page", "proxy", "server", "network", "tearline", "unknown")


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

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "actor": self.actor,
            "summary": self.summary,
            "confidence": round(self.confidence, 3),
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
    abnormal: bool = False  # True unless the cause is clean_close
    sources: tuple[str, ...] = ()  # which sources saw this stream
    stats: dict[str, Any] = field(default_factory=dict)  # messages/bytes per direction, last activity...

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": self.url,
            "kind": self.kind,
            "opened_at": self.opened_at,
            "ended_at": self.ended_at,
            "abnormal": self.abnormal,
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


@dataclass
class Diagnosis:
    streams: list[StreamDiagnosis]
    sources: list[SourceSummary]
    # The aligned timeline the report draws. Columns:
    #   t (float, wall epoch s), source (str), stream (str|None: StreamDiagnosis.id),
    #   leg (str|None: "client"/"server" for proxy captures), kind (str: Observation kind),
    #   direction (str|None), size (float|NaN), code (float|NaN), text (str|None),
    #   url (str|None: Observation.url, e.g. a navigation's destination; unredacted, scrub before showing)
    timeline: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    @property
    def first_abnormal(self) -> StreamDiagnosis | None:
        ended = [s for s in self.streams if s.abnormal]
        return min(ended, key=lambda s: s.ended_at or float("inf"), default=None)

    def to_dict(self) -> dict[str, Any]:
        first = self.first_abnormal
        return {
            "streams": [s.to_dict() for s in self.streams],
            "first_abnormal": first.id if first else None,
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
