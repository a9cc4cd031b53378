"""``diagnose(records)``: one clock, one list of streams, the cause of each stream's end.

The pipeline, each step in its own module, each importing only the steps before it (an import-linter
contract in pyproject.toml holds it):

1. ``tearline.analysis.diagnose.parts``: group each record's observations into parts, one per stream it saw;
2. ``tearline.analysis.diagnose.align``: refine each source's clock offset from streams seen by two sources
   (parts matched by ``tearline.analysis.diagnose.match``), and apply it;
3. ``tearline.analysis.diagnose.streams``: match the aligned parts into one list of streams, set noise aside;
4. ``tearline.analysis.diagnose.rules``: run the rule table on each stream; the most confident finding is the cause,
   the others (one per cause kind) are the alternatives.

The result is an ``tearline.analysis.diagnose.model.Diagnosis`` (see there for the JSON and the
``timeline`` columns). Pure: no file is read here.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tearline.analysis.diagnose.align import apply_offsets, estimate_offsets
from tearline.analysis.diagnose.model import Cause, Diagnosis, Evidence, SourceSummary, StreamDiagnosis
from tearline.analysis.diagnose.rule_context import browser_initiated
from tearline.analysis.diagnose.rules import Context, run_rules
from tearline.analysis.diagnose.rules_timer import (
    TOLERANCE_MIN,
    TOLERANCE_SHARE,
    idle_connection_notes,
    measures,
)
from tearline.analysis.diagnose.streams import Stream, build_streams
from tearline.analysis.diagnose.timeline import TIMELINE_COLUMNS, timeline_frame
from tearline.analysis.evidence.observation import Observation, SourceRecord
from tearline.analysis.evidence.timers import DEFAULT_TIMERS, Timer

from tearline.proxy_cost import delay_note

__all__ = [
    "TIMELINE_COLUMNS",
    "diagnose",
    "known_timeouts",
    "recorded_timers",
    "repeat_timers",
    "timeline_frame",
]

MAX_ALTERNATIVES = 4


def known_timeouts(records: Iterable[SourceRecord]) -> dict[str, float]:
    """Timer values (seconds) found in the records' metadata, e.g. a capture header's options.

    Any numeric key whose name contains ``timeout`` counts; ``*_ms`` keys are milliseconds.
    """
    out: dict[str, float] = {}

    def walk(prefix: str, value: Any, depth: int) -> None:
        if depth > 4:
            return
        if isinstance(value, Mapping):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v, depth + 1)
            return
        name = prefix.rsplit(".", 1)[-1].lower()
        if "timeout" not in name or isinstance(value, bool):
            return
        seconds: float | None = None
        if isinstance(value, int | float):
            seconds = float(value)
        elif isinstance(value, str):
            s = value.strip().lower()
            for suffix, mult in (("ms", 0.001), ("s", 1.0), ("m", 60.0)):
                if s.endswith(suffix):
                    try:
                        seconds = float(s[: -len(suffix)]) * mult
                    except ValueError:
                        seconds = None
                    break
        if seconds is not None and name.endswith("_ms"):
            seconds /= 1000.0
        if seconds is not None and math.isfinite(seconds) and seconds > 0:
            out[prefix] = seconds

    for rec in records:
        walk(rec.name, rec.meta, 0)
    return out


def _pick(causes: list[Cause]) -> tuple[Cause, tuple[Cause, ...]]:
    if not causes:
        unknown = Cause(
            kind="unknown",
            actor="unknown",
            summary="The evidence does not say how this stream ended.",
            confidence=0.0,
            rule="none",
        )
        return unknown, ()
    seen = {causes[0].kind}
    alts: list[Cause] = []
    for c in causes[1:]:
        if c.kind not in seen:
            seen.add(c.kind)
            alts.append(c)
    return causes[0], tuple(alts[:MAX_ALTERNATIVES])


def recorded_timers(records: Iterable[SourceRecord]) -> list[Timer]:
    """``known_timeouts`` as timers. Which clock a recorded value counts from is not written, so each is
    tried as a lifetime and as an idle time (mitmproxy's ``tcp_timeout`` is an idle timer)."""
    out: list[Timer] = []
    for rec in records:  # per file: two captures (two mitmdumps) may record different values
        for label, seconds in known_timeouts([rec]).items():
            clocks = ("idle",) if label.endswith("tcp_timeout") else ("open", "idle")
            source = f"{label} in {Path(rec.path).name}" if rec.path else label
            out.extend(
                Timer(name=label, seconds=seconds, clock=c, inferred_from="recorded option", source=source)
                for c in clocks
                if not any(t.name == label and t.seconds == seconds and t.clock == c for t in out)
            )
    return out


def _context(
    stream: Stream,
    global_obs: list[Observation],
    timers: list[Timer],
    end: float | None,
    everything: Sequence[Stream] = (),
) -> Context:
    others = [s for s in everything if s is not stream]
    return Context(stream=stream, global_obs=global_obs, timers=timers, recording_end=end, others=others)


def _diagnose_stream(ctx: Context) -> StreamDiagnosis:
    stream = ctx.stream
    best, alts = _pick(run_rules(ctx))
    ended = stream.ended_at
    still_open = best.kind == "unknown" and ended is None
    outcome = "open" if still_open else ("expected" if best.expected else "fault")
    return StreamDiagnosis(
        id=stream.id,
        url=stream.url,
        kind=stream.kind,
        opened_at=stream.opened_at,
        ended_at=ended,
        cause=best,
        alternatives=alts,
        abnormal=outcome == "fault",
        outcome=outcome,
        sources=stream.sources,
        stats=stream.stats(),
    )


REPEAT_MIN = 1.0  # seconds: shorter durations repeat by chance (one test's timings), not by a timer
REPEAT_CLOCKS = ("open", "server_idle", "idle")
UNEXPLAINED = ("server_abrupt_close", "unknown")
SAME_MOMENT = (
    0.5  # seconds: ends this close together are one event  # ends a repeating duration may explain better
)


def repeat_timers(contexts: Sequence[Context], results: Sequence[StreamDiagnosis]) -> list[Timer]:
    """Durations that ended two or more streams the same way on the same clock at separate moments, none
    of them explained by more than an abrupt end: a timer whose value no table knows. Streams that ended
    together do not count twice: one event (a back end dropping its connections) ends them all."""
    unexplained = [
        ctx
        for ctx, r in zip(contexts, results, strict=True)
        if r.cause.kind in UNEXPLAINED and browser_initiated(ctx) is None
    ]
    out: list[Timer] = []
    for clock in REPEAT_CLOCKS:
        found = sorted(
            (m[clock], ctx.ended or 0.0)
            for ctx in unexplained
            if (m := measures(ctx)).get(clock, 0) >= REPEAT_MIN
        )
        group: list[tuple[float, float]] = []
        for v, end in [*found, (math.inf, 0.0)]:
            if group and v - group[0][0] <= max(TOLERANCE_MIN, TOLERANCE_SHARE * group[0][0]):
                group.append((v, end))
                continue
            if _separate_events([e for _, e in group]) >= 2:
                value = statistics.median(x for x, _ in group)
                out.append(
                    Timer(
                        name=f"a timer of {value:.1f} s that ended {len(group)} streams",
                        seconds=value,
                        clock=clock,
                        inferred_from="repeats",
                        source=f"{len(group)} streams of this recording",
                    )
                )
            group = [(v, end)]
    return out


def _separate_events(ends: list[float]) -> int:
    """How many separate moments these ends happened at: streams that ended together (within
    ``SAME_MOMENT``) ended by one event (a back end dropping all its connections), not by a timer each."""
    moments = 0
    last = -math.inf
    for t in sorted(ends):
        if t - last > SAME_MOMENT:
            moments += 1
        last = t
    return moments


def diagnose(records: Sequence[SourceRecord], timers: Sequence[Timer] = ()) -> Diagnosis:
    """Name the most likely cause of every stream's end in ``records`` (one per evidence file).

    ``timers``: deadlines known from configuration (``--caddy-config``); they come before values a
    recorder wrote, documented defaults and durations that repeat across streams."""
    alignment = estimate_offsets(records)
    aligned = apply_offsets(records, alignment)
    streams, noise, global_obs = build_streams(aligned)
    known = [*timers, *recorded_timers(aligned), *DEFAULT_TIMERS]
    end = max(
        [o.t for r in aligned for o in r.observations]
        + [float(x.t.max()) for r in aligned for x in r.runs if len(x)],
        default=None,
    )
    contexts = [_context(s, global_obs, known, end, [*streams, *noise]) for s in streams]
    results = [_diagnose_stream(ctx) for ctx in contexts]
    repeats = repeat_timers(contexts, results)
    if repeats:
        results = [
            _diagnose_stream(_context(ctx.stream, global_obs, [*known, *repeats], end, [*streams, *noise]))
            if r.cause.kind in UNEXPLAINED
            else r
            for ctx, r in zip(contexts, results, strict=True)
        ]
    sources = [
        SourceSummary(
            name=rec.name,
            path=rec.path,
            observations=rec.size,
            clock=rec.clock,
            offset=alignment.offsets[i],
            residual_skew=alignment.residual_skew[i],
            warnings=tuple(rec.warnings),
        )
        for i, rec in enumerate(records)
    ]
    notes: list[str] = []
    if noise:
        reasons: dict[str, int] = {}
        for n in noise:
            reasons[n.noise or "?"] = reasons.get(n.noise or "?", 0) + 1
        notes.append(
            "Set aside as background noise, not failures: "
            + ", ".join(f"{count} {why}" for why, count in sorted(reasons.items()))
            + "."
        )
    agree = [
        (rec.name, abs(m))
        for i, rec in enumerate(records)
        if (m := alignment.measured[i]) is not None
        and i != alignment.reference
        and alignment.offsets[i] == 0.0
    ]
    if agree and alignment.reference is not None:
        ref = records[alignment.reference].name
        worst = max(m for _, m in agree)
        names = ", ".join(dict.fromkeys(n for n, _ in agree))
        notes.append(f"Clocks of {names} agree with the {ref} within {worst * 1000:.0f} ms; not shifted.")
    for i, why in enumerate(alignment.refused):
        if why:
            notes.append(f"Clock of {records[i].name} ({records[i].path}) not shifted: {why}.")
    if not streams:
        notes.append("No WebSocket, SSE or streaming request was found in the evidence.")
    for n in noise:
        if n.noise and n.noise.startswith("page navigation"):
            failed = [o for o in n.obs("request_failed") if o.error] + [
                o for o in n.obs("response_headers") if (o.status or 0) >= 400
            ]
            if failed:
                f = failed[0]
                what = f.error or f"status {f.status}"
                notes.append(
                    f"The page navigation to {n.url} failed with {what}: an error page, not a stream end."
                )
    notes.extend(crash_notes([o for o in global_obs if o.kind == "page_crash"]))
    notes.extend(idle_connection_notes((o for r in aligned for o in r.observations), known))
    costs = {
        k: v
        for rec in records
        if rec.name == "capture"
        for k, v in (rec.meta.get("proxy_cost") or {}).items()
    }
    timed = [
        (r.id, float(m))
        for r in results
        if r.abnormal and isinstance(m := r.cause.details.get("measured"), int | float)
    ]
    if proxy_note := delay_note(costs, timed):  # the recorder's measure of the proxy's own delay
        notes.append(proxy_note)
    return Diagnosis(
        streams=results,
        sources=sources,
        timeline=lambda: timeline_frame(aligned, streams),  # built when the report reads it
        notes=notes,
    )


def crash_notes(crashes: list[Observation], window: float = 3.0) -> list[str]:
    """One note per renderer crash: reports of it from several sources within ``window`` s are one crash."""
    notes: list[str] = []
    group: list[Observation] = []
    for o in [*sorted(crashes, key=lambda o: o.t), None]:
        if o is not None and (not group or o.t - group[0].t <= window):
            group.append(o)
            continue
        if group:
            best = max(group, key=lambda x: (x.code is not None, len(x.text or "")))
            code = (
                f" 'Error code: {best.code}'" + (" (SIGSEGV)" if best.code == 11 else "") if best.code else ""
            )
            t0 = group[0].t
            when = time.strftime("%H:%M:%S", time.gmtime(t0)) + f".{int(t0 % 1 * 1000):03d} UTC"
            sources = ", ".join(sorted({x.source for x in group}))
            notes.append(
                f"The renderer crashed at {when}{code}, seen by {sources}: the sad-tab page is a browser "
                "crash, not a network error; streams it tore down are reported as client_navigation."
            )
        group = [o] if o is not None else []
    return notes


def evidence_line(e: Evidence) -> str:
    """One evidence line for a person: ``[source t] text (where)``."""
    where = f" ({e.where})" if e.where else ""
    return f"[{e.source}] {e.text}{where}"
