"""``tearline demo``: reproduce the bundled incident end to end, diagnose it and write the report.

The incident: a Next.js + CopilotKit chat page (``www.localhost``) streams an AI
answer from a LangGraph-style agent (``ai.localhost``, AG-UI events over SSE
through a streamed ``fetch``, plus a WebSocket) through Caddy; the user clicks
a link mid-answer. The demo runs the real parts on 127.0.0.1 (the agent,
Caddy, mitmdump with tearline's recorder on both legs, headless Chromium),
writes every file to ``out/demo/`` (or ``--out``), then runs the diagnosis and
the report when they are installed (``tearline.analysis.diagnose.diagnosis``, ``tearline.analysis.report.page``)
and otherwise prints ``tearline summary`` of the captures.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click

from tearline.errors import TearlineError, UsageError
from tearline.lab.run_files import clear_previous_run

__all__ = ["demo_command", "prepare_out_dir"]

LEGEND = (
    ("browser", ("netlog", "cdp", "console", "har")),
    ("proxy", ("caddy_log",)),
    ("agent", ("backend_log",)),
)


def prepare_out_dir(out: Path) -> Path:
    """Create ``out``, or clear an earlier demo's files from it; refuse a directory with other files only.

    An earlier demo (``bundle.json`` there) loses exactly the files a recording writes
    (``tearline.lab.run_files``); anything else the user put beside them stays.
    """
    out = out.resolve()
    if out.exists():
        if not out.is_dir():
            raise UsageError("is not a directory", path=out, place="--out", hint="choose a directory")
        if any(out.iterdir()):
            if not (out / "bundle.json").exists():
                raise UsageError(
                    "holds files that are not an earlier tearline demo; not touching them",
                    path=out,
                    place="--out",
                    hint="choose an empty or new directory",
                )
            clear_previous_run(out)
    out.mkdir(parents=True, exist_ok=True, mode=0o700)  # run folders: owner only
    return out


def _rel(path: Path, base: Path) -> str:
    try:
        return str(path.relative_to(base))
    except ValueError:
        return str(path)


def _print_files(bundle: Any, cwd: Path) -> None:
    click.echo(f"Recorded in {_rel(bundle.out_dir, cwd)}/ ({bundle.ended_at - bundle.started_at:.1f} s):")
    for label, fields in LEGEND:
        names = [getattr(bundle, f).name for f in fields if getattr(bundle, f) is not None]
        if names:
            click.echo(f"  {label:9} {', '.join(names)}")
    legs = ("browser -> Caddy", "Caddy -> agent")
    caps = [f"{p.name} ({leg})" for p, leg in zip(bundle.captures, legs, strict=False)]
    if caps:
        click.echo(f"  {'captures':9} {', '.join(caps)}")
    for note in bundle.notes:
        click.echo(f"  note: {note}")


def _diagnose(bundle: Any) -> Any | None:
    """The ``Diagnosis`` of the bundle, or None when the analysis side is not installed."""
    try:
        from tearline.analysis.diagnose.diagnosis import diagnose
        from tearline.analysis.evidence.load import load_evidence
    except ImportError:
        return None
    records = load_evidence(
        captures=bundle.captures,
        netlog=bundle.netlog,
        cdp=bundle.cdp,
        har=bundle.har,
        console=bundle.console,
        caddy_log=bundle.caddy_log,
    )
    return diagnose(records)


def _print_diagnosis(diagnosis: Any, bundle: Any) -> None:
    click.echo("")
    click.echo("Diagnosis:")
    for s in diagnosis.streams:
        click.echo(f"  {s.kind:4} {s.url}")
        click.echo(f"       {s.cause.kind} by {s.cause.actor} ({s.cause.confidence:.0%}): {s.cause.summary}")
    if not diagnosis.streams:
        click.echo("  no streams found")
    kinds = {s.cause.kind for s in diagnosis.streams}
    verdict = "as expected" if bundle.expected_kind in kinds else f"expected {bundle.expected_kind}"
    click.echo(f"  ({verdict} for this scenario)")


def _write_diagnosis(diagnosis: Any, out: Path) -> list[Path]:
    from tearline.analysis.diagnose.cli import format_text

    text, js = out / "diagnosis.txt", out / "diagnosis.json"
    text.write_text(format_text(diagnosis) + "\n")
    js.write_text(json.dumps(diagnosis.to_dict(), indent=2, allow_nan=False, default=str) + "\n")
    return [text, js]


def _report(diagnosis: Any, out: Path, title: str) -> list[Path]:
    try:
        from tearline.analysis.report.page import render_report
    except ImportError:
        return []
    files = render_report(diagnosis, out / "report.html", png=out / "timeline.png", title=title)
    return [p for p in (files.html, files.png) if p is not None]


def _summary_fallback(bundle: Any) -> None:
    from tearline.cli import cli

    click.echo("")
    click.echo("The diagnosis is not installed here; the captures say:")
    for capture in bundle.captures:
        cli.main(args=["summary", str(capture)], standalone_mode=False)


@click.command("demo")
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("out/demo"),
    show_default=True,
    help="Directory for every recorded file, the diagnosis and the report (an earlier demo's files there are replaced; other files stay).",
)
@click.option(
    "--scenario",
    default="client_navigation",
    show_default=True,
    help="Which recording to make: the incident (client_navigation), renderer_crash (the sad tab), "
    "or any other cause kind, e.g. stall or proxy_timeout (docs/lab.md lists them).",
)
@click.option(
    "--tls",
    is_flag=True,
    help="Serve the two sites over HTTPS (HTTP/2, Caddy's internal CA) as in production.",
)
def demo_command(out: Path, scenario: str, tls: bool) -> None:
    """Reproduce the bundled incident end to end and report it.

    A CopilotKit-style chat page streams an AI answer (AG-UI over SSE, and a
    WebSocket) from a LangGraph-style agent through Caddy, and the user clicks
    away mid-answer. Real Chromium, Caddy and mitmdump run on 127.0.0.1; the
    files, the diagnosis and an HTML/PNG report go to --out.
    """
    from tearline.lab.browser import check_chromium
    from tearline.lab.scenarios import SCENARIOS, record_scenario

    if scenario not in SCENARIOS:
        raise UsageError(
            f"unknown scenario {scenario!r}",
            place="--scenario",
            hint="choose one of: " + ", ".join(SCENARIOS),
        )
    check_chromium()
    out_dir = prepare_out_dir(out)
    cwd = Path.cwd()
    sc = SCENARIOS[scenario]
    click.echo(f"tearline demo: {sc.summary}")
    click.echo(
        "  Chromium -> mitmdump (recorder) -> Caddy -> mitmdump (recorder) -> agent, all on 127.0.0.1"
        + (", HTTPS" if tls else "")
    )
    started = time.monotonic()
    try:
        bundle = record_scenario(scenario, out_dir, tls=tls)
    except TearlineError:
        raise
    except Exception as e:  # a part failed to start or the browser timed out: one line, not a traceback
        first = " ".join(str(e).split("\n", 1)[0].split())[:300]
        raise UsageError(f"the reproduction failed: {type(e).__name__}: {first}", path=out_dir) from e
    click.echo("")
    _print_files(bundle, cwd)
    diagnosis = _diagnose(bundle)
    if diagnosis is None:
        _summary_fallback(bundle)
        return
    _print_diagnosis(diagnosis, bundle)
    written = _write_diagnosis(diagnosis, out_dir)
    written += _report(diagnosis, out_dir, f"tearline demo: {scenario}")
    click.echo("")
    click.echo("Wrote: " + ", ".join(_rel(p, cwd) for p in written))
    if scenario == "client_navigation":
        click.echo("")
        click.echo(
            "Chrome's \"Can't open this page, Error code: 11\" is a crashed renderer (SIGSEGV), not a network "
            "error: clicking away only cancels the streams, as above. Run: tearline explain 'Error code: 11', "
            "and see a real one: tearline demo --scenario renderer_crash"
        )
    elif scenario == "renderer_crash":
        click.echo("")
        click.echo(
            'This is the sad tab ("Error code: 11", SIGSEGV, in Target.targetCrashed of cdp.jsonl): on the wire it '
            "looks exactly like a navigation (close 1001 from the browser, the fetch cancelled); only the browser's "
            "own evidence tells them apart."
        )
    click.echo(
        f"Done in {time.monotonic() - started:.0f} s. Re-run the diagnosis: tearline diagnose "
        + " ".join(_rel(Path(a), cwd) if a.startswith("/") else a for a in bundle.diagnose_args())
    )
