"""Whole figures for the report and for ``--png``, composed from ``analysis/report/plots.py``.

- ``swimlane_figure(d)``: the swimlane timeline of every stream.
- ``zoom_figure(d, stream_id)``: one abnormal end: its lanes just before the
  end (left) and the numbered evidence lines of its cause (right).
- ``overview_figure(d, title)``: one picture to paste into an issue tracker:
  the headline sentence, the swimlane, and the zoom on the first abnormal end.
- ``png_bytes(fig)``: a figure as PNG bytes.

Figures are plain ``matplotlib.figure.Figure`` objects (no pyplot, no global
state), so rendering is safe in any thread and leaves nothing open.
"""

from __future__ import annotations

import io
import textwrap
import time

from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure
from matplotlib.patches import Rectangle
from tearline.analysis.diagnose.model import Diagnosis, StreamDiagnosis
from tearline.analysis.report.lanes import df_drawable, df_lanes
from tearline.analysis.report.plot_style import PALETTE, cause_label, cause_style, plain
from tearline.analysis.report.plots import chosen_streams, plot_swimlanes, plot_zoom, stream_window, zoom_rows

__all__ = ["headline", "overview_figure", "png_bytes", "swimlane_figure", "zoom_figure"]

WIDTH = 12.0  # inches
DPI = 110


def clock(t: float | None, date: bool = False) -> str:
    """Epoch seconds as a UTC clock time with milliseconds ("14:13:25.210"), or "-" for None."""
    if t is None:
        return "-"
    # rounded to the millisecond, exactly as diagnosis.txt prints it (analysis/diagnose/cli.py)
    ms = round((t % 1) * 1000)
    if ms == 1000:
        t, ms = t + 1, 0
    fmt = "%Y-%m-%d %H:%M:%S" if date else "%H:%M:%S"
    return time.strftime(fmt, time.gmtime(t)) + f".{ms:03d}"


def headline(s: StreamDiagnosis) -> str:
    """One line naming a stream's end: "s2 (sse …) ended at 14:13:25.210 UTC: page went away (85%)"."""
    when = f"ended at {clock(s.ended_at)} UTC" if s.ended_at is not None else "did not end in the evidence"
    return f"{s.id} ({s.kind} {s.url}) {when}: {cause_label(s.cause.kind)} ({s.cause.confidence:.0%})"


def png_bytes(fig: Figure, dpi: int = DPI) -> bytes:
    """The figure rendered as PNG."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, facecolor="white")
    return buf.getvalue()


def _lane_count(d: Diagnosis, max_streams: int) -> int:
    chosen = [s.id for s in chosen_streams(d, max_streams)]
    tl = df_drawable(d.timeline)
    if len(chosen) < len(d.streams):
        tl = tl[tl["stream"].isin(chosen) | tl["stream"].isna()]
    return len(df_lanes(tl, chosen))


def swimlane_figure(d: Diagnosis, max_streams: int = 30) -> Figure:
    """The swimlane timeline of the diagnosis on a figure of its own."""
    fig = Figure(figsize=(WIDTH, 2.0 + 0.42 * max(_lane_count(d, max_streams), 2)), layout="constrained")
    plot_swimlanes(d, fig.add_subplot(), max_streams=max_streams)
    return fig


def _evidence_panel(ax: Axes, s: StreamDiagnosis, end: float, max_lines: int) -> None:
    """The numbered evidence lines of a stream's cause, as text (numbers match the zoom's markers)."""
    ax.set_axis_off()
    style = cause_style(s.cause.kind)
    lines: list[tuple[str, str, str]] = []  # (text, colour, weight)
    lines.append((plain(f"{cause_label(s.cause.kind)} · {s.cause.actor} · {s.cause.confidence:.0%}", 60),
                  style.color, "bold"))  # fmt: skip
    lines += [(w, "#222222", "normal") for w in textwrap.wrap(plain(s.cause.summary, 400), 58)]
    if s.opened_at is not None:
        lines.append((f"open {end - s.opened_at:.3f} s before the end (opened {clock(s.opened_at)} UTC)",
                      PALETTE["grey"], "normal"))  # fmt: skip
    lines.append(("", "#222222", "normal"))
    n = 0
    for e in s.cause.evidence:
        if e.t is not None:
            n += 1
            rel = f"{float(e.t) - end:+.3f} s"
        else:
            rel = "no time"
        head = f"{n if e.t is not None else '·'}  {e.source}  {rel}"
        lines.append((plain(head, 60), PALETTE["black"], "bold"))
        lines += [(w, "#333333", "normal") for w in textwrap.wrap(plain(e.text, 300), 56)[:4]]
    if not s.cause.evidence:
        lines.append(("(the rule gave no evidence lines)", PALETTE["grey"], "normal"))
    if len(lines) > max_lines:
        more = len(lines) - max_lines + 1
        lines = [
            *lines[: max_lines - 1],
            (f"… {more} more lines in the report's findings table", PALETTE["grey"], "normal"),
        ]
    step = 1.0 / max(max_lines, 1)
    for i, (text, color, weight) in enumerate(lines):
        ax.text(0.0, 1.0 - i * step, text, transform=ax.transAxes, va="top", ha="left", fontsize=7.5,
                color=color, fontweight=weight, family="DejaVu Sans")  # fmt: skip


Window = tuple[float, float, float]


def _zoom_into(fig: Figure | SubFigure, d: Diagnosis, s: StreamDiagnosis, lanes: int, window: Window) -> None:
    grid = fig.add_gridspec(1, 2, width_ratios=[2.4, 1.0])
    ax = fig.add_subplot(grid[0, 0])
    plot_zoom(d, s.id, ax, window=window)
    ax.set_title(plain(f"Zoom on the end of {s.id}: {s.kind} {s.url}", 110), fontsize=9, loc="left")
    _evidence_panel(fig.add_subplot(grid[0, 1]), s, window[1], max_lines=max(int(lanes * 2.6), 14))


def _zoom_lanes(d: Diagnosis, s: StreamDiagnosis) -> tuple[int, Window]:
    """How many lanes the zoom on ``s`` has, and its window."""
    window = stream_window(d, s)
    tl = zoom_rows(d, s.id, window[0], window[2])
    sources = {e.source for e in s.cause.evidence if e.t is not None}
    return len(df_lanes(tl, [s.id])) + len(sources), window


def zoom_figure(d: Diagnosis, stream_id: str) -> Figure:
    """One abnormal end: the stream's last moments (left) beside what each source said (right)."""
    s = next(st for st in d.streams if st.id == stream_id)
    lanes, window = _zoom_lanes(d, s)
    fig = Figure(figsize=(WIDTH, 1.8 + 0.45 * max(lanes, 3)), layout="constrained")
    _zoom_into(fig, d, s, lanes, window)
    return fig


def overview_figure(d: Diagnosis, title: str = "tearline report", max_streams: int = 30) -> Figure:
    """Headline, swimlane timeline and the zoom on the first abnormal end, in one picture."""
    first = d.first_abnormal
    swim_h = 2.0 + 0.42 * max(_lane_count(d, max_streams), 2)
    zoom_lanes, window = _zoom_lanes(d, first) if first is not None else (0, (0.0, 0.0, 0.0))
    zoom_h = 1.8 + 0.45 * max(zoom_lanes, 3) if first is not None else 0.0
    head_h = 1.2
    fig = Figure(figsize=(WIDTH, head_h + swim_h + zoom_h), layout="constrained")
    n_parts = 3 if first is not None else 2
    parts: list[SubFigure] = list(
        fig.subfigures(n_parts, 1, height_ratios=[head_h, swim_h, zoom_h][:n_parts]).flat  # type: ignore[union-attr]
    )
    top = parts[0]
    top.text(0.01, 0.92, plain(title, 120), fontsize=13, fontweight="bold", va="top")
    if first is not None:
        style = cause_style(first.cause.kind)
        top.patches.append(
            Rectangle((0.0, 0.06), 0.005, 0.58, transform=top.transSubfigure, color=style.color, figure=top)
        )
        top.text(0.01, 0.62, plain(headline(first), 150), fontsize=10.5, fontweight="bold", va="top")
        summary = "\n".join(textwrap.wrap(plain(first.cause.summary, 330), 165)[:2])
        top.text(0.01, 0.40, summary, fontsize=9.5, va="top", color="#222222", linespacing=1.3)
    else:
        top.text(0.01, 0.5, d.counts_sentence() + ": no fault.", fontsize=10.5, va="top")
    plot_swimlanes(d, parts[1].add_subplot(), max_streams=max_streams)
    if first is not None:
        _zoom_into(parts[2], d, first, zoom_lanes, window)
    return fig
