"""``tearline report``: the diagnosis as one self-contained HTML page (and a PNG).

Takes the same inputs as ``tearline diagnose`` (``tearline.analysis.diagnose.cli``'s
``evidence_options``), diagnoses them, and writes ``-o report.html``; with
``--png timeline.png`` also the overview picture (headline, swimlane
timeline, zoom on the first fault) for pasting into an issue tracker.

Exit status: 0 when the report was written; 2 with a one-line message when an
input is missing or malformed or an output path cannot be written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from tearline.analysis.diagnose.cli import diagnosis_from_options, evidence_options
from tearline.analysis.report.figures import headline
from tearline.analysis.report.page import check_target, render_report
from tearline.analysis.report.scrub import scrub

__all__ = ["default_title", "report_command"]


def default_title(kwargs: dict[str, Any]) -> str:
    """ "tearline report: <the input file names>" (at most three, then "+N more")."""
    names = [Path(p).name for p in kwargs.get("captures") or ()]
    names += [Path(v).name for k, v in kwargs.items() if k not in ("captures",) and isinstance(v, str) and v]
    shown = ", ".join(names[:3]) + (f" +{len(names) - 3} more" if len(names) > 3 else "")
    return f"tearline report: {shown}" if shown else "tearline report"


@click.command("report")
@evidence_options
@click.option(
    "-o",
    "--output",
    "output",
    required=True,
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="Where to write the HTML report (one self-contained file).",
)
@click.option(
    "--png",
    type=click.Path(dir_okay=False),
    default=None,
    metavar="FILE",
    help="Also write the overview figure (headline, timeline, first fault) as PNG.",
)
@click.option("--title", default=None, help="Title of the report (default: the input file names).")
def report_command(output: str, png: str | None, title: str | None, **kwargs: Any) -> None:
    """Write a self-contained HTML timeline report of why each stream ended.

    Inputs are those of `tearline diagnose`: CAPTURE files and any browser or
    proxy evidence. The page has no scripts and references nothing outside
    itself; open it from disk.

    \b
    Example:
        tearline report client.jsonl --netlog netlog.json --caddy-log caddy.log -o report.html --png timeline.png
    """
    check_target(Path(output), "-o")
    if png is not None:
        check_target(Path(png), "--png")
    diagnosis = diagnosis_from_options(**kwargs)
    files = render_report(diagnosis, output, png, title=title or default_title(kwargs))
    click.echo(f"wrote {files.html} ({files.bytes_html / 1024:.0f} KiB): {diagnosis.counts_sentence()}")
    if files.png is not None:
        click.echo(f"wrote {files.png}")
    first = diagnosis.first_abnormal
    if first is not None:
        click.echo(f"first fault: {scrub(headline(first), 300)}")
