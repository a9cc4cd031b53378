"""``tearline demo``: reproduce the bundled incident end to end, diagnose it and write the report.

The incident: a Next.js + CopilotKit chat page (``www.localhost``) streams an AI
answer from a LangGraph-style agent (``ai.localhost``, AG-UI events over SSE
through a streamed ``fetch``, plus a WebSocket) through Caddy; the user clicks
a link mid-answer. The demo is a run (``tearline.runs.driver.execute_run``) of
the scenario's run file in ``examples/runs/`` (``incident-nav-away.toml`` for
the incident): the real parts on 127.0.0.1 (the agent, Caddy, mitmdump with
tearline's recorder on both legs, headless Chromium), every file in
``out/demo/`` (or ``--out``), then the diagnosis and the report when they are
installed, and otherwise ``tearline summary`` of the captures.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

import tearline
from tearline.errors import TearlineError, UsageError
from tearline.lab.run_files import clear_previous_run
from tearline.runs.cli import load_run_file
from tearline.runs.driver import RunResult, execute_run

if TYPE_CHECKING:
    from tearline.lab.scenario_table import Scenario
    from tearline.lab.scenarios import EvidenceBundle

__all__ = ["RUNS_DIR", "demo_command", "prepare_out_dir", "scenario_run_file"]

RUNS_DIR = Path(tearline.__file__).resolve().parent.parent / "examples" / "runs"
"""The run files of the lab's scenarios (a checkout's ``examples/runs/``)."""


def scenario_run_file(scenario: str) -> Path:
    """The run file of a lab scenario: ``client_navigation`` is the incident, the others are named after it."""
    name = "incident-nav-away" if scenario == "client_navigation" else scenario.replace("_", "-")
    path = RUNS_DIR / f"{name}.toml"
    if not path.is_file():
        raise UsageError(
            "the lab's run files are not here (tearline demo runs them from a checkout)",
            path=path,
            hint="run from a clone of tearline: pip install -e '.[lab]'",
        )
    return path


def _bundle(scenario: str, result: RunResult, sc: Scenario) -> EvidenceBundle:
    from tearline.lab.scenarios import EvidenceBundle

    return EvidenceBundle(
        scenario=scenario,
        out_dir=result.out_dir,
        netlog=result.netlog,
        cdp=result.cdp,
        har=result.har,
        console=result.console,
        caddy_log=result.caddy_log,
        caddy_config=result.caddy_config,
        backend_log=result.backend_log or result.out_dir / "backend.log",
        captures=tuple(result.captures),
        expected_kind=sc.expected_kind,
        expected_actor=sc.expected_actor,
        page_url=result.page_url,
        started_at=result.started_at,
        ended_at=result.ended_at,
        notes=tuple(result.notes),
    )


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
    from tearline.lab.scenarios import SCENARIOS

    if scenario not in SCENARIOS:
        raise UsageError(
            f"unknown scenario {scenario!r}",
            place="--scenario",
            hint="choose one of: " + ", ".join(SCENARIOS),
        )
    run_file = scenario_run_file(scenario)
    rf = load_run_file(run_file, {"tls": "true"} if tls else {})
    check_chromium()
    out_dir = prepare_out_dir(out)
    cwd = Path.cwd()
    sc = SCENARIOS[scenario]
    click.echo(f"tearline demo: {sc.summary}")
    click.echo(
        "  Chromium -> mitmdump (recorder) -> Caddy -> mitmdump (recorder) -> agent, all on 127.0.0.1"
        + (", HTTPS" if tls else "")
    )
    click.echo(f"  (a run of {_rel(run_file, cwd)}: tearline run does the same for any run file)")
    started = time.monotonic()
    try:
        result = execute_run(rf, out_dir, title=f"tearline demo: {scenario}")
    except TearlineError:
        raise
    except Exception as e:  # a part failed to start or the browser timed out: one line, not a traceback
        first = " ".join(str(e).split("\n", 1)[0].split())[:300]
        raise UsageError(f"the reproduction failed: {type(e).__name__}: {first}", path=out_dir) from e
    if result.step_error:
        raise UsageError(f"the reproduction failed: {result.step_error}", path=out_dir)
    bundle = _bundle(scenario, result, sc)
    (out_dir / "bundle.json").write_text(json.dumps(bundle.to_dict(), indent=2) + "\n")
    click.echo("")
    _print_files(bundle, cwd)
    diagnosis = result.diagnosis
    if diagnosis is None:
        _summary_fallback(bundle)
        return
    _print_diagnosis(diagnosis, bundle)
    written = [out_dir / n for n in ("diagnosis.txt", "diagnosis.json", "report.html", "timeline.png")]
    written = [p for p in written if p.exists()]
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
