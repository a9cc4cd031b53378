"""The matrix's outputs: the ranking by symptoms, ``matrix.csv``, ``matrix.json`` and ``matrix.html``.

``matrix.html`` is self-contained: the table (one row per fault and variant,
one column per symptom seen, cells counting the runs that showed it over the
runs of the row), a bar plot as inline SVG, and links to each run's report.
Everything from the runs is escaped.
"""

from __future__ import annotations

import csv
import html
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tearline.runs.symptoms import shows

__all__ = ["rank", "row_labels", "write_outputs"]

CSV_COLUMNS = (
    "id", "fault", "leg", "vars", "repeat", "seed", "error_page", "error_page_text", "main_frame_error",
    "url", "kind", "net_error", "close_code", "was_clean", "console_errors", "cause_kind", "actor",
    "backend_went_on_s", "step_error", "failed", "report",
)  # fmt: skip


def rank(rows: Sequence[Mapping[str, Any]], symptoms: Sequence[str]) -> list[dict[str, Any]]:
    """Faults by how many of their runs showed every symptom, best first ([] without symptoms)."""
    if not symptoms:
        return []
    order: dict[str, dict[str, Any]] = {}
    for row in rows:
        entry = order.setdefault(row["fault"], {"fault": row["fault"], "matched": 0, "of": 0})
        entry["of"] += 1
        if not row.get("failed") and all(shows(row, s) for s in symptoms):
            entry["matched"] += 1
    first = {f: i for i, f in enumerate(order)}
    return sorted(order.values(), key=lambda e: (-e["matched"], -(e["matched"] / e["of"]), first[e["fault"]]))


def row_labels(row: Mapping[str, Any]) -> list[str]:
    """The symptom columns one run contributes to the table."""
    if row.get("failed"):
        return ["run failed"]
    labels = []
    if row.get("error_page"):
        labels.append(f"error page: {str(row.get('error_page_text'))[:60]}")
    for s in row.get("streams") or []:
        labels.append(f"{s['kind']} {s.get('cause_kind')}")
        if s.get("net_error"):
            labels.append(f"{s['kind']} {s['net_error']}")
        if s.get("close_code") is not None:
            labels.append(f"{s['kind']} close {s['close_code']}" + ("" if s.get("was_clean") else " unclean"))
    if row.get("step_error"):
        labels.append("step failed")
    return labels


def _vars_text(v: Mapping[str, Any]) -> str:
    return " ".join(f"{k}={x}" for k, x in v.items())


def _csv(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=CSV_COLUMNS, extrasaction="ignore")
        w.writeheader()
        for row in rows:
            base = {k: row.get(k) for k in CSV_COLUMNS} | {"vars": _vars_text(row.get("vars") or {})}
            streams = row.get("streams") or [{}]
            for s in streams:
                w.writerow(
                    base
                    | {
                        k: s.get(k)
                        for k in (
                            "url",
                            "kind",
                            "net_error",
                            "close_code",
                            "was_clean",
                            "console_errors",
                            "cause_kind",
                            "actor",
                        )
                    }
                )


def _groups(rows: Sequence[Mapping[str, Any]]) -> list[tuple[str, str, list[Mapping[str, Any]]]]:
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["fault"], _vars_text(row.get("vars") or {})), []).append(row)
    return [(f, v, rs) for (f, v), rs in groups.items()]


def _svg(bars: Sequence[tuple[str, float, str]], unit: str) -> str:
    """Horizontal bars: (label, value, text shown)."""
    if not bars:
        return ""
    top = max((b[1] for b in bars), default=0) or 1.0
    h, width, left = 22, 720, 330
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{h * len(bars) + 24}" role="img">'
    ]
    for i, (label, value, text) in enumerate(bars):
        y = i * h + 4
        w = (width - left - 80) * value / top
        parts.append(
            f'<text x="{left - 6}" y="{y + 14}" text-anchor="end" font-size="12">{html.escape(label[:48])}</text>'
        )
        parts.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{h - 6}" fill="#4a78b5"/>')
        parts.append(f'<text x="{left + w + 4:.1f}" y="{y + 14}" font-size="12">{html.escape(text)}</text>')
    parts.append(
        f'<text x="{left}" y="{h * len(bars) + 18}" font-size="11" fill="#555">{html.escape(unit)}</text></svg>'
    )
    return "".join(parts)


def _html(
    run_file: str,
    rows: Sequence[Mapping[str, Any]],
    symptoms: Sequence[str],
    ranking: Sequence[Mapping[str, Any]],
    note: str,
) -> str:
    e = html.escape
    groups = _groups(rows)
    columns: list[str] = [f"shows {s!r}" for s in symptoms]
    for row in rows:
        for label in row_labels(row):
            if label not in columns:
                columns.append(label)
    head = "".join(
        f"<th>{e(c)}</th>" for c in ["fault", "vars", "runs", *columns, "back end went on (s)", "reports"]
    )
    body = []
    bars = []
    for fault, variant, rs in groups:
        n = len(rs)
        cells = []
        for c in columns:
            if c.startswith("shows ") and c[6:] in {repr(s) for s in symptoms}:
                s = next(s for s in symptoms if repr(s) == c[6:])
                k = sum(1 for r in rs if not r.get("failed") and shows(r, s))
            else:
                k = sum(1 for r in rs if c in row_labels(r))
            cells.append(f'<td class="{"hit" if k else "miss"}">{k}/{n}</td>')
        went = [r["backend_went_on_s"] for r in rs if r.get("backend_went_on_s") is not None]
        went_text = f"{sum(went) / len(went):.2f}" if went else ""
        links = " ".join(f'<a href="{e(str(r["report"]))}">{e(str(r["id"]))}</a>' for r in rs)
        body.append(
            f"<tr><td>{e(fault)}</td><td>{e(variant)}</td><td>{n}</td>{''.join(cells)}<td>{went_text}</td><td>{links}</td></tr>"
        )
        if symptoms:
            matched = sum(1 for r in rs if not r.get("failed") and all(shows(r, s) for s in symptoms))
            bars.append((f"{fault} {variant}".strip(), matched / n, f"{matched}/{n}"))
        elif went:
            bars.append((f"{fault} {variant}".strip(), sum(went) / len(went), went_text + " s"))
    unit = (
        "runs showing every symptom"
        if symptoms
        else "seconds the back end kept producing after the browser left"
    )
    rank_html = ""
    if ranking:
        items = "".join(f"<li>{r['matched']}/{r['of']} <code>{e(r['fault'])}</code></li>" for r in ranking)
        rank_html = f"<h2>Ranking by {e(' + '.join(symptoms))}</h2><ol>{items}</ol>"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tearline matrix: {e(run_file)}</title>
<style>
body {{ font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; }}
table {{ border-collapse: collapse; }} th, td {{ border: 1px solid #ccc; padding: 3px 6px; font-size: 13px; }}
th {{ background: #f3f3f3; }} td.hit {{ background: #fde2c8; font-weight: bold; }} td.miss {{ color: #999; }}
</style></head><body>
<h1>tearline matrix</h1>
<p>Run file <code>{e(run_file)}</code>: {len(rows)} runs. {e(note)}</p>
{rank_html}
<h2>Symptoms per fault (runs that showed it / runs)</h2>
<table><tr>{head}</tr>{"".join(body)}</table>
<h2>Plot</h2>
{_svg(bars, unit)}
</body></html>
"""


def write_outputs(
    out_dir: Path,
    *,
    run_file: str,
    rows: Sequence[dict[str, Any]],
    symptoms: Sequence[str],
    ranking: Sequence[Mapping[str, Any]],
    seed: int | None,
    interrupted: bool,
    planned: int,
) -> list[Path]:
    """Write matrix.csv, matrix.json and matrix.html into ``out_dir``; return their paths."""
    note = f"Interrupted: {len(rows)} of {planned} planned runs." if interrupted else ""
    paths = [out_dir / "matrix.csv", out_dir / "matrix.json", out_dir / "matrix.html"]
    _csv(paths[0], rows)
    doc = {
        "run_file": run_file,
        "seed": seed,
        "symptoms": list(symptoms),
        "planned": planned,
        "interrupted": interrupted,
        "runs": list(rows),
        "ranking": list(ranking),
    }
    paths[1].write_text(json.dumps(doc, indent=2, default=str) + "\n")
    paths[2].write_text(_html(run_file, rows, symptoms, ranking, note))
    return paths
