"""``tearline run FILE -o DIR`` and ``tearline matrix FILE -o DIR``.

``run``: one run of a run file (docs/runs.md), its files, diagnosis and report
in DIR, a short summary on stdout; exit 1 when an ``[expect]`` fails or a step
fails. ``matrix``: ``tearline.runs.matrix``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from tearline.errors import UsageError
from tearline.lab.run_files import clear_previous_run
from tearline.runs.model import RunFile
from tearline.runs.run_file import parse_run_text

__all__ = ["load_run_file", "parse_var_options", "prepare_dir", "print_run", "run_command"]


def load_run_file(path: Path, overrides: dict[str, str] | None = None) -> RunFile:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError("no such run file", path=path, hint="see examples/runs/ for run files") from None
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"cannot read the run file: {e}", path=path) from None
    return parse_run_text(text, str(path), overrides)


def parse_var_options(values: Sequence[str], option: str) -> dict[str, str]:
    out = {}
    for v in values:
        name, eq, value = v.partition("=")
        if not eq or not name.strip():
            raise UsageError(f"{v!r} is not NAME=VALUE", place=option, hint=f"e.g. {option} fix=delay")
        out[name.strip()] = value.strip()
    return out


def prepare_dir(out: Path, marker: str, option: str = "-o") -> Path:
    """Create ``out``, or clear an earlier run's files from it; refuse a directory holding other files."""
    out = Path(out).resolve()
    if out.exists():
        if not out.is_dir():
            raise UsageError("is not a directory", path=out, place=option, hint="choose a directory")
        if any(out.iterdir()) and not (out / marker).exists():
            raise UsageError(
                f"holds files that are not an earlier tearline {marker.split('.')[0]}; not touching them",
                path=out,
                place=option,
                hint="choose an empty or new directory",
            )
        clear_previous_run(out)
    out.mkdir(parents=True, exist_ok=True, mode=0o700)  # run folders: owner only
    return out


def _rel(path: Path | str, base: Path) -> str:
    try:
        return str(Path(path).relative_to(base))
    except ValueError:
        return str(path)


def print_run(result: Any, cwd: Path) -> None:
    rec = result.record
    click.echo(
        f"Recorded in {_rel(result.out_dir, cwd)}/ ({result.ended_at - result.started_at:.1f} s): {result.page_url}"
    )
    if result.step_error:
        click.echo(f"  step failed: {result.step_error}")
    if rec.get("error_page"):
        click.echo(f"  error page: {rec.get('error_page_text')}")
    for s in rec.get("streams", []):
        bits = [s["cause_kind"] or "?", f"by {s['actor']}" if s.get("actor") else ""]
        if s.get("net_error"):
            bits.append(s["net_error"])
        if s.get("close_code") is not None:
            bits.append(f"close {s['close_code']}" + ("" if s.get("was_clean") else " unclean"))
        click.echo(f"  {s['kind']:4} {s['url']}: {' '.join(b for b in bits if b)}")
    if not rec.get("streams"):
        click.echo(
            "  no streams found"
            if result.diagnosis is not None
            else "  (the diagnosis is not installed here)"
        )
    if rec.get("backend_went_on_s") is not None:
        click.echo(f"  the back end kept producing {rec['backend_went_on_s']:.2f} s after the browser left")


@click.command("run")
@click.argument("run_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Directory for the run's files, diagnosis.json and report.html (an earlier run's files there are replaced).",
)
@click.option("--var", "var", multiple=True, metavar="NAME=VALUE", help="Set a [vars] variable (repeatable).")
def run_command(run_file: Path, out: Path, var: tuple[str, ...]) -> None:
    """Run a run file: start the app, drive Chromium through the steps, diagnose.

    Records NetLog, DevTools events, console, HAR, a capture per leg, Caddy's
    and the back end's logs and a screenshot into OUT, then writes
    diagnosis.json and report.html. Exit status 1 when a step or an [expect]
    fails.
    """
    from tearline.lab.browser import check_chromium
    from tearline.runs.driver import execute_run

    rf = load_run_file(run_file, parse_var_options(var, "--var"))
    check_chromium()
    out_dir = prepare_dir(out, "run.json")
    cwd = Path.cwd()
    click.echo(f"tearline run: {rf.name}" + (f": {rf.description}" if rf.description else ""))
    try:
        result = execute_run(rf, out_dir)
    except KeyboardInterrupt:
        click.echo("Interrupted: everything the run started has been stopped.", err=True)
        raise SystemExit(130) from None
    print_run(result, cwd)
    written = [p for p in ("diagnosis.json", "report.html") if (out_dir / p).exists()]
    if written:
        click.echo("Wrote: " + ", ".join(_rel(out_dir / p, cwd) for p in written))
    for failure in result.expect_failures:
        click.echo(f"expect failed: {failure}")
    if result.step_error or result.expect_failures:
        raise SystemExit(1)
