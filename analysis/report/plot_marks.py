"""How the timeline rows that are not message ticks are drawn: one table of
marker categories (``MARKS``) and a vectorised ``mark_category`` that puts
every row in one of them.

Rows of kinds in ``lanes.TICK_DIRECTION`` (messages, chunks) are ticks, not
marks; ``mark_category`` gives them ``""``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from tearline.analysis.report.plot_style import PALETTE

__all__ = ["KIND_CATEGORY", "MARKS", "MarkStyle", "mark_category"]


@dataclass(frozen=True, slots=True)
class MarkStyle:
    """One marker category: matplotlib marker, colour, size (points^2), legend label,
    and whether the first mark of the category on each lane gets its text written beside it."""

    marker: str
    color: str
    size: float
    label: str
    annotate: bool = False

    def handle(self) -> Line2D:
        """A legend entry for this category."""
        return Line2D(
            [], [], marker=self.marker, color=self.color, linestyle="", markersize=7, label=self.label
        )


MARKS: dict[str, MarkStyle] = {
    "start": MarkStyle("|", PALETTE["grey"], 60, "opened / headers"),
    "close": MarkStyle("o", PALETTE["black"], 22, "close / done"),
    "cancel": MarkStyle("<", PALETTE["sky"], 45, "cancelled by page", annotate=True),
    "error": MarkStyle("x", PALETTE["vermillion"], 55, "error reported", annotate=True),
    "goaway": MarkStyle(">", PALETTE["purple"], 45, "GOAWAY / going away", annotate=True),
    "navigation": MarkStyle("v", PALETTE["blue"], 70, "navigation", annotate=True),
    "crash": MarkStyle("X", PALETTE["vermillion"], 110, "renderer crash", annotate=True),
    "console": MarkStyle(".", PALETTE["grey"], 40, "console message"),
    "console_error": MarkStyle("o", PALETTE["vermillion"], 26, "console error", annotate=True),
    "access": MarkStyle(".", PALETTE["green"], 40, "Caddy access line"),
    "reload": MarkStyle("D", PALETTE["purple"], 40, "Caddy config reload", annotate=True),
    "relay": MarkStyle("2", PALETTE["black"], 50, "tearline relayed an end"),
    "fault": MarkStyle("*", PALETTE["black"], 90, "tearline fault fired", annotate=True),
}

# Observation kind -> marker category (see analysis/evidence/observation.py OBSERVATION_KINDS).
KIND_CATEGORY: dict[str, str] = {
    "request_start": "start",
    "response_headers": "start",
    "ws_created": "start",
    "ws_handshake_request": "start",
    "ws_open": "start",
    "request_done": "close",
    "ws_close_sent": "close",
    "ws_close_received": "close",
    "ws_closed": "close",
    "socket_closed": "close",
    "request_cancelled": "cancel",
    "request_failed": "error",
    "ws_error": "error",
    "socket_error": "error",
    "h2_rst_stream": "error",
    "upstream_error": "error",
    "proxy_abort": "error",
    "proxy_timeout": "error",
    "h2_goaway": "goaway",
    "navigation": "navigation",
    "page_crash": "crash",
    "console": "console",
    "access": "access",
    "proxy_reload": "reload",
    "relay": "relay",
    "fault": "fault",
}

_ERROR_TEXT = r"(?i)\b(?:error|uncaught|failed|unclean)\b|ERR_[A-Z_]+"


def mark_category(tl: pd.DataFrame) -> np.ndarray:
    """The ``MARKS`` category of every row ("" for ticks and unknown kinds).

    Closes whose text reports an error (``ERR_...``, "unclean") count as errors,
    and console messages that read like errors as ``console_error``."""
    cats = tl["kind"].map(KIND_CATEGORY).fillna("").to_numpy(dtype=object)
    idx = np.flatnonzero((cats == "close") | (cats == "console"))
    if len(idx):
        text = tl["text"].iloc[idx].astype("string")
        erring = idx[text.str.contains(_ERROR_TEXT, regex=True, na=False).to_numpy(dtype=bool)]
        cats[erring] = np.where(cats[erring] == "close", "error", "console_error")
    return cats
