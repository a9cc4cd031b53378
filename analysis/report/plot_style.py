"""The house style of tearline's figures: one colour-blind-safe palette and the
tables that say how each cause, event kind and lane looks.

The palette is Okabe & Ito's eight colours (distinguishable with the common
colour-vision deficiencies); every figure and the HTML report take their
colours from ``PALETTE`` and nowhere else. Shapes repeat what colours say, so
a grey-scale print still reads.
"""

from __future__ import annotations

from dataclasses import dataclass

from tearline.analysis.report.scrub import scrub

__all__ = [
    "CAUSE_STYLE",
    "DIRECTION_STYLE",
    "PALETTE",
    "CauseStyle",
    "cause_label",
    "cause_style",
    "plain",
]

# Okabe-Ito, plus two greys for structure.
PALETTE: dict[str, str] = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
    "grey": "#8C8C8C",
    "light": "#E8E8E8",
}


@dataclass(frozen=True, slots=True)
class CauseStyle:
    """How a stream end of one cause kind is drawn: colour, marker and a short label."""

    color: str
    marker: str  # matplotlib marker
    label: str  # a few words for a person


CAUSE_STYLE: dict[str, CauseStyle] = {
    "clean_close": CauseStyle(PALETTE["green"], "o", "clean close"),
    "client_navigation": CauseStyle(PALETTE["blue"], "<", "page went away"),  # navigated, unloaded or crashed
    "client_app_close": CauseStyle(PALETTE["sky"], "<", "page code closed it"),
    "server_going_away": CauseStyle(PALETTE["purple"], ">", "server going away"),
    "server_abrupt_close": CauseStyle(PALETTE["vermillion"], "X", "server cut it abruptly"),
    "connection_reset": CauseStyle(PALETTE["vermillion"], "X", "connection reset"),
    "proxy_timeout": CauseStyle(PALETTE["orange"], "d", "proxy timer fired"),
    "upstream_unavailable": CauseStyle(PALETTE["vermillion"], "s", "upstream unavailable"),
    "protocol_error": CauseStyle(PALETTE["purple"], "X", "protocol error"),
    "stall": CauseStyle(PALETTE["orange"], "s", "stalled"),
    "in_band_error": CauseStyle(PALETTE["vermillion"], "P", "failed inside the stream"),
    "injected_fault": CauseStyle(PALETTE["black"], "*", "tearline injected fault"),
    "unknown": CauseStyle(PALETTE["grey"], "o", "unknown"),
}

# Who sent the data: "client" (browser to server) ticks go up, "server" ticks go down.
DIRECTION_STYLE: dict[str, tuple[str, int, str]] = {
    "client": (PALETTE["blue"], +1, "sent by browser (up)"),
    "server": (PALETTE["orange"], -1, "sent by server (down)"),
}


def cause_style(kind: str) -> CauseStyle:
    """The style of a cause kind; unknown kinds look like ``unknown``."""
    return CAUSE_STYLE.get(kind, CAUSE_STYLE["unknown"])


def cause_label(kind: str) -> str:
    """A few words for a cause kind, for legends and headings."""
    style = CAUSE_STYLE.get(kind)
    return style.label if style else kind.replace("_", " ")


def plain(text: object, limit: int = 80) -> str:
    """Make captured text safe to hand to matplotlib: one line, at most ``limit``
    characters, secrets blanked (``tearline.analysis.report.scrub``), control characters dropped
    and ``$`` escaped so that hostile text is never parsed as mathtext."""
    s = "".join(ch if ch.isprintable() else " " for ch in scrub(text, limit * 4))
    s = " ".join(s.split())
    if len(s) > limit:
        s = s[: max(limit - 1, 1)] + "…"
    return s.replace("$", r"\$")
