"""``render_report``: one self-contained HTML file (and a PNG) from a ``Diagnosis``.

The page is rendered from ``templates/report.html.j2`` by Jinja2 with
autoescaping on, so every captured string (URLs, payload previews, log lines,
file names) reaches the page as text, never as markup. Images are PNGs
embedded as ``data:`` URIs; nothing else is referenced: no scripts, fonts,
styles or URLs outside the file. A Content-Security-Policy ``<meta>`` forbids
everything but ``data:`` images and the one inline stylesheet (allowed by its
SHA-256 hash), so even markup that slipped through could not run or fetch.

Secrets: every captured string goes through ``tearline.analysis.report.scrub`` (secret query
values, ``name=value`` pairs and bearer tokens blanked).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd
from tearline.analysis.diagnose.model import Cause, Diagnosis, StreamDiagnosis
from tearline.analysis.report.figures import clock, overview_figure, png_bytes, swimlane_figure, zoom_figure
from tearline.analysis.report.lanes import df_drawable
from tearline.analysis.report.plot_style import CAUSE_STYLE, cause_label
from tearline.analysis.report.scrub import scrub, scrub_url

from tearline import __version__
from tearline.errors import UsageError

__all__ = [
    "MAX_ZOOMS",
    "ReportFiles",
    "check_target",
    "content_security_policy",
    "render_html",
    "render_report",
    "report_context",
]

TEMPLATES = Path(__file__).parent / "templates"
MAX_ZOOMS = 12  # abnormal ends zoomed in the HTML; the rest are in the findings table


@dataclass(frozen=True, slots=True)
class ReportFiles:
    """What ``render_report`` wrote."""

    html: Path
    png: Path | None
    bytes_html: int


def _anchor(sid: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", sid)[:60] or "_"


def _text_color(hex_color: str) -> str:
    r, g, b = (int(hex_color[i : i + 2], 16) / 255 for i in (1, 3, 5))
    return "#000000" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.45 else "#ffffff"


def _stylesheet() -> str:
    css = (TEMPLATES / "report.css").read_text(encoding="utf-8")
    rules = [
        f".tag.k-{kind} {{ background: {st.color}; color: {_text_color(st.color)}; }}\n"
        f".card.k-{kind} {{ border-left-color: {st.color}; }}"
        for kind, st in CAUSE_STYLE.items()
    ]
    return css + "\n".join(rules) + "\n"


def content_security_policy(css: str) -> str:
    """The page's CSP: nothing but data: images and this exact stylesheet."""
    digest = base64.b64encode(hashlib.sha256(css.encode("utf-8")).digest()).decode("ascii")
    return (
        f"default-src 'none'; img-src data:; style-src 'sha256-{digest}'; base-uri 'none'; form-action 'none'"
    )


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _duration(s: StreamDiagnosis) -> str:
    if s.opened_at is None or s.ended_at is None:
        return "-"
    return f"{s.ended_at - s.opened_at:.3f} s"


def _traffic(stats: dict[str, Any], direction: str) -> str:
    n, b = stats.get(f"messages_{direction}"), stats.get(f"bytes_{direction}")
    if n is None:
        return "-"
    return f"{n} msg, {b or 0} B"


def _cause_row(c: Cause) -> dict[str, Any]:
    return {
        "kind": c.kind,
        "actor": c.actor,
        "confidence_pct": f"{c.confidence:.0%}",
        "rule": scrub(c.rule, 200),
        "summary": scrub(c.summary),
    }


def _stream_row(s: StreamDiagnosis, first_id: str | None) -> dict[str, Any]:
    kind = s.cause.kind if s.cause.kind in CAUSE_STYLE else "unknown"
    lifetime = f"{clock(s.opened_at)} → {clock(s.ended_at)} UTC" + (
        f" ({_duration(s)})" if s.ended_at is not None and s.opened_at is not None else ""
    )
    evidence = []
    n = 0
    for e in s.cause.evidence:
        if e.t is not None:
            n += 1
        rel = f"{e.t - s.ended_at:+.3f} s" if e.t is not None and s.ended_at is not None else "-"
        evidence.append(
            {
                "n": n if e.t is not None else "·",
                "source": scrub(e.source, 200),
                "time": clock(e.t),
                "rel": rel,
                "text": scrub(e.text),
                "where": scrub(e.where, 300),
            }
        )
    ends = s.stats.get("ends") if isinstance(s.stats.get("ends"), dict) else {}
    return {
        "id": scrub(s.id, 80),
        "anchor": _anchor(s.id),
        "kind": scrub(s.kind, 40),
        "url": scrub_url(s.url),
        "opened": clock(s.opened_at),
        "ended": clock(s.ended_at),
        "duration": _duration(s),
        "lifetime": lifetime,
        "received": _traffic(s.stats, "server"),
        "sent": _traffic(s.stats, "client"),
        "ends": [(scrub(k, 200), scrub(v, 400)) for k, v in (ends or {}).items()],
        "abnormal": s.abnormal,
        "first": s.id == first_id,
        "cause_kind": kind,
        "cause_label": cause_label(s.cause.kind),
        "actor": s.cause.actor,
        "summary": scrub(s.cause.summary),
        "confidence": f"{max(0.0, min(1.0, s.cause.confidence)):.3f}",
        "confidence_pct": f"{s.cause.confidence:.0%}",
        "causes": [_cause_row(c) for c in (s.cause, *s.alternatives)],
        "evidence": evidence,
    }


def _seconds(value: float | None, signed: bool = True) -> str:
    """Seconds for the clocks table: milliseconds below 10 s; "unmatched" for None."""
    if value is None:
        return "unmatched"
    sign = "+" if signed else ""
    return f"{value * 1000:{sign}.1f} ms" if abs(value) < 10 else f"{value:{sign}.3f} s"


def report_context(
    d: Diagnosis,
    title: str = "tearline report",
    timeline_img: str | None = None,
    zooms: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Everything the template shows, as plain strings (unescaped; the template escapes).

    ``timeline_img`` and ``zooms`` (stream id -> image) are ``data:`` URIs."""
    first = d.first_abnormal
    first_id = first.id if first else None
    ordered = sorted(
        d.streams, key=lambda s: (s.opened_at if s.opened_at is not None else float("inf"), s.id)
    )
    streams = [_stream_row(s, first_id) for s in ordered]
    by_id = {s.id: row for s, row in zip(ordered, streams, strict=True)}
    zooms = zooms or {}
    abnormal = [s for s in ordered if s.abnormal]
    css = _stylesheet()
    return {
        "title": scrub(title, 200),
        "version": __version__,
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"),
        "css": css,
        "csp": content_security_policy(css),
        "first": by_id[first.id] if first else None,
        "streams": streams,
        "abnormal_count": len(abnormal),
        "counts": d.counts_sentence(),
        "expected_count": len(d.expected_ends),
        "open_count": len(d.streams) - len(d.faults) - len(d.expected_ends),
        "timeline_img": timeline_img,
        "zooms": [{**by_id[sid], "img": img} for sid, img in zooms.items() if sid in by_id],
        "zooms_left_out": max(0, len(abnormal) - len(zooms)),
        "sources": [
            {
                "name": scrub(src.name, 80),
                "path": scrub(src.path, 400),
                "file": scrub(src.path.replace("\\", "/").rsplit("/", 1)[-1], 120) if src.path else "",
                "observations": src.observations,
                "clock": scrub(src.clock, 200),
                "offset": _seconds(src.offset),
                "skew": _seconds(src.residual_skew, signed=False),
                "warnings": [scrub(w, 400) for w in src.warnings[:20]],
            }
            for src in d.sources
        ],
        "notes": [scrub(n, 600) for n in d.notes],
    }


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


def render_html(d: Diagnosis, title: str = "tearline report", max_zooms: int = MAX_ZOOMS) -> str:
    """The report page as a string, figures included."""
    timeline_img = _data_uri(png_bytes(swimlane_figure(d))) if len(d.timeline) or d.streams else None
    abnormal = [s for s in d.streams if s.abnormal]
    abnormal.sort(key=lambda s: s.ended_at if s.ended_at is not None else float("inf"))
    zooms = {s.id: _data_uri(png_bytes(zoom_figure(d, s.id))) for s in abnormal[:max_zooms]}
    context = report_context(d, title, timeline_img, zooms)
    return _environment().get_template("report.html.j2").render(**context)


def check_target(path: Path, flag: str) -> None:
    if path.is_dir():
        raise UsageError("is a directory, not a file", path=path, place=flag, hint="give a file name")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(
            "the directory does not exist", path=path, place=flag, hint="create it or choose another path"
        )
    if not os.access(parent, os.W_OK):
        raise UsageError("the directory is not writable", path=path, place=flag, hint="choose another path")


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _write(path: Path, data: bytes, flag: str) -> None:
    """Write atomically: a reader never sees half a report, a failure leaves the old file."""
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a report is an ordinary file
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as e:
        raise UsageError(
            f"cannot write: {e.strerror or e}", path=path, place=flag, hint="choose a writable path"
        ) from None


def render_report(
    diagnosis: Diagnosis,
    out_html: str | os.PathLike[str],
    png: str | os.PathLike[str] | None = None,
    title: str = "tearline report",
    *,
    max_zooms: int = MAX_ZOOMS,
) -> ReportFiles:
    """Write the HTML report to ``out_html`` and, with ``png``, the overview figure
    (headline, swimlane timeline, zoom on the first abnormal end) as a PNG.

    Raises ``UsageError`` (one line naming the path) when a target cannot be written."""
    html_path = Path(out_html)
    png_path = Path(png) if png is not None else None
    check_target(html_path, "-o")
    if png_path is not None:
        check_target(png_path, "--png")
    # Text columns kept as Python strings while drawing: with pyarrow installed (the [parquet] extra) pandas
    # would store them in Arrow, and converting a million-row timeline to it and back costs the report
    # half again its time and 1.7x its memory (docs/performance.md); what is drawn is the same.
    with pd.option_context("mode.string_storage", "python"):
        # draw from the rows a person needs (once, not per figure)
        d = dataclasses.replace(diagnosis, timeline=df_drawable(diagnosis.timeline))
        html = render_html(d, title, max_zooms).encode("utf-8")
        _write(html_path, html, "-o")
        if png_path is not None:
            _write(png_path, png_bytes(overview_figure(d, scrub(title, 200))), "--png")
    return ReportFiles(html=html_path, png=png_path, bytes_html=len(html))
