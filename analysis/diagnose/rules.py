"""Signature -> cause rules, in one table.

Each rule is a small pure function of a ``Context`` (one stream, the
observations that belong to no stream, the known timer values) that returns
zero or more ``Cause`` findings, each with a confidence (0..1) and the
evidence lines it rests on. ``RULES`` declares, for each rule, the sources it
can use and the observation kinds it looks for; a rule runs only when the
evidence contains at least one of them. The diagnosis keeps the finding with
the highest confidence as the cause and the others as alternatives.

Confidences are calibrated against each other, not probabilities: a rule that
sees the proxy's own account of a failure (0.85-0.97) beats a rule that only
sees how the browser felt it (0.6-0.8), and the page's own close (0.7) loses to
a stall seen before it (0.8). docs/diagnosis.md lists every rule.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from tearline.analysis.diagnose.model import Cause
from tearline.analysis.diagnose.rule_context import Context
from tearline.analysis.diagnose.rules_browser import rule_app_close, rule_clean, rule_navigation, rule_stall
from tearline.analysis.diagnose.rules_in_band import rule_in_band
from tearline.analysis.diagnose.rules_server import (
    rule_abrupt,
    rule_going_away,
    rule_injected_fault,
    rule_protocol_error,
    rule_reset,
    rule_upstream_unavailable,
)
from tearline.analysis.diagnose.rules_timer import rule_proxy_timer
from tearline.analysis.evidence.observation import SOURCE_NAMES

__all__ = ["RULES", "Context", "Rule", "run_rules"]


@dataclass(frozen=True)
class Rule:
    """One rule: its function and what it needs (any one of the sources, any one of the kinds)."""

    name: str
    fn: Callable[[Context], list[Cause]]
    sources: tuple[str, ...]
    kinds: tuple[str, ...]
    doc: str


ALL = SOURCE_NAMES

RULES: tuple[Rule, ...] = (
    Rule(
        "injected_fault",
        rule_injected_fault,
        ("capture",),
        ("fault",),
        "a capture's fault event at the end time",
    ),
    Rule(
        "in_band",
        rule_in_band,
        ALL,
        ("data_received",),
        "an SSE event reporting failure (AG-UI RUN_ERROR, an error event) in a stream; the cause from the "
        "deepest hop that failed in its lifetime",
    ),
    Rule(
        "navigation",
        rule_navigation,
        ALL,
        ("navigation", "page_crash", "ws_close_sent", "request_cancelled", "h2_rst_stream"),
        "browser cancelled / sent 1001 and the page navigated or crashed near the end",
    ),
    Rule(
        "going_away",
        rule_going_away,
        ALL,
        ("ws_close_received", "ws_closed"),
        "close 1001/1012 toward the browser; a proxy reload at that moment makes the proxy the actor",
    ),
    Rule(
        "proxy_timer",
        rule_proxy_timer,
        ALL,
        ("proxy_timeout", "ws_closed", "request_failed", "request_done"),
        "a proxy timer log line, or an end measured on a timer's clock (lifetime, idle, server/browser "
        "silence, awaiting headers, since a reload) equal to a configured, recorded, default or repeating value",
    ),
    Rule(
        "upstream_unavailable",
        rule_upstream_unavailable,
        ALL,
        ("response_headers", "access", "upstream_error", "ws_error", "console", "request_failed"),
        "502/503/504 on the stream, a dial error, a refused connection",
    ),
    Rule(
        "protocol_error",
        rule_protocol_error,
        ALL,
        (
            "request_failed",
            "ws_error",
            "console",
            "ws_close_sent",
            "ws_close_received",
            "ws_closed",
            "socket_error",
        ),
        "protocol net errors, WebSocket frame errors, close 1002/1007",
    ),
    Rule(
        "reset",
        rule_reset,
        ALL,
        ("request_failed", "socket_error", "socket_closed", "proxy_abort", "upstream_error", "ws_error"),
        "ERR_CONNECTION_RESET, socket error -101, a capture's RST, 'connection reset by peer' from the upstream",
    ),
    Rule(
        "abrupt",
        rule_abrupt,
        ALL,
        ("proxy_abort", "upstream_error", "ws_closed", "request_failed", "socket_closed", "h2_rst_stream"),
        "body cut / FIN mid-stream / WebSocket 1006; the proxy's 'reading from backend' even when it hid it",
    ),
    Rule(
        "stall",
        rule_stall,
        ALL,
        ("data_received", "ws_frame_received"),
        "silence from the server far longer than the usual gap before the end",
    ),
    Rule(
        "app_close",
        rule_app_close,
        ALL,
        ("ws_close_sent", "request_cancelled", "request_failed", "h2_rst_stream"),
        "the browser closed or cancelled the stream with no navigation around",
    ),
    Rule(
        "clean",
        rule_clean,
        ALL,
        ("ws_close_received", "request_done", "ws_closed"),
        "server-initiated close 1000 / complete body",
    ),
)


def run_rules(ctx: Context, rules: Iterable[Rule] = RULES) -> list[Cause]:
    """Every finding of every applicable rule, best first (confidence, then table order)."""
    present_sources = set(ctx.stream.sources) | {o.source for o in ctx.global_obs}
    present_kinds = {o.kind for p in ctx.stream.parts for o in p.obs} | {o.kind for o in ctx.global_obs}
    present_kinds |= {r.kind for p in ctx.stream.parts for r in p.runs if len(r)}
    found: list[tuple[float, int, Cause]] = []
    for i, rule in enumerate(rules):
        if not (present_sources & set(rule.sources)) or not (present_kinds & set(rule.kinds)):
            continue
        for c in rule.fn(ctx):
            found.append(
                (
                    -c.confidence,
                    i,
                    Cause(
                        kind=c.kind,
                        actor=c.actor,
                        summary=c.summary,
                        confidence=c.confidence,
                        evidence=c.evidence,
                        rule=rule.name,
                        details=c.details,
                    ),
                )
            )
    found.sort(key=lambda x: (x[0], x[1]))
    return [c for _, _, c in found]
