"""``tearline matrix FILE -o DIR``: one run file under many faults and variants, tabulated and ranked.

Columns of faults come from ``--fault SPEC`` (the one-line form; ``leg=backend``
among its items puts it on the backend leg) and ``--faults FILE.toml`` (each
``[[fault]]`` a column). The matrix runs a baseline with no added fault, then
every fault, for every combination of ``--vary NAME=V1,V2`` values, ``--repeat``
times, each run in ``DIR/runs/<id>/``, and writes ``matrix.csv``,
``matrix.json`` and ``matrix.html`` (``tearline.runs.matrix_out``). With
``--symptom`` it ranks the faults by how many of their runs showed every
given symptom.

Ctrl-C: the first one lets the current run finish (its processes stop as in
any run), the second stops it at once; either way the table of the runs that
finished is written and the exit status is 130.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
import signal
import sys
import time
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from tearline.errors import TearlineError, UsageError
from tearline.faults.scenario import TRIGGER_KEYS, one_line, parse_fault, parse_one_line
from tearline.runs.cli import load_run_file, parse_var_options, prepare_dir
from tearline.runs.matrix_out import rank, write_outputs
from tearline.runs.model import LEGS, LegFault

__all__ = ["Column", "matrix_command", "parse_fault_columns", "plan_runs"]

_LEG_ITEM = re.compile(r"(^|,)\s*leg\s*=\s*(\w+)\s*(?=,|$)")


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class Column:
    """One fault column: ``fault`` is None for the baseline."""

    label: str  # "none" or the one-line form (with leg=backend when on that leg)
    fault: LegFault | None


def _column(spec_table: dict[str, Any], leg: str, spec: Any) -> Column:
    label = one_line(spec) + (",leg=backend" if leg == "backend" else "")
    return Column(label=label, fault=LegFault(leg=leg, spec=spec, table=spec_table))


def parse_fault_columns(fault_specs: Sequence[str], fault_files: Sequence[Path]) -> list[Column]:
    """The columns after the baseline, in the order given (``--fault`` first, then each file's tables)."""
    columns = []
    for i, text in enumerate(fault_specs, 1):
        leg = "browser"
        m = _LEG_ITEM.search(text)
        if m:
            leg = m.group(2)
            if leg not in LEGS:
                raise UsageError(
                    f"unknown leg {leg!r}", place=f"--fault {text!r}", hint="use leg=browser or leg=backend"
                )
            text = (text[: m.start()] + text[m.end() :]).replace(":,", ":").rstrip(":")
        spec = parse_one_line(text, i, source=None)
        columns.append(_column(_spec_table(spec), leg, spec))
    for path in fault_files:
        try:
            doc = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UsageError("no such faults file", path=path, place="--faults") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise UsageError(f"is not valid TOML: {e}", path=path, place="--faults") from None
        tables = doc.get("fault")
        if not isinstance(tables, list) or not tables:
            raise UsageError(
                "has no [[fault]] tables", path=path, place="--faults", hint="see docs/faults.md"
            )
        for j, table in enumerate(tables, 1):
            table = dict(table)
            leg = table.pop("leg", "browser")
            if leg not in LEGS:
                raise UsageError(
                    f"unknown leg {leg!r}",
                    path=path,
                    place=f"fault {j}, key 'leg'",
                    hint="use browser or backend",
                )
            spec = parse_fault(table, source=str(path), number=j, fault_id=f"{Path(path).name}#{j}")
            columns.append(_column(table, leg, spec))
    return columns


def _spec_table(spec: Any) -> dict[str, Any]:
    from tearline.faults.scenario import table_keys

    defaults = {f.name: f.default for f in dataclasses.fields(spec.fault)}
    return {k: v for k, v in table_keys(spec).items() if k == "action" or defaults.get(k, object()) != v}


def parse_vary(values: Sequence[str]) -> list[dict[str, str]]:
    """``--vary fix=a,b --vary n=1,2`` -> every combination, in order."""
    axes: list[tuple[str, list[str]]] = []
    for v in values:
        name, eq, rest = v.partition("=")
        items = [x.strip() for x in rest.split(",") if x.strip()]
        if not eq or not name.strip() or not items:
            raise UsageError(f"{v!r} is not NAME=V1,V2", place="--vary", hint="e.g. --vary fix=none,delay")
        axes.append((name.strip(), items))
    if not axes:
        return [{}]
    names = [n for n, _ in axes]
    return [
        dict(zip(names, combo, strict=True)) for combo in itertools.product(*(items for _, items in axes))
    ]


def _with_seed(column: Column, seed: int | None, repeat: int) -> tuple[Column, int | None]:
    """A column whose probabilistic fault gets ``seed + repeat`` when it has no seed of its own."""
    if column.fault is None or seed is None or "seed" not in TRIGGER_KEYS or "seed" in column.fault.table:
        return column, seed
    table = {**column.fault.table, "seed": seed + repeat}
    return dataclasses.replace(column, fault=dataclasses.replace(column.fault, table=table)), seed + repeat


def plan_runs(
    columns: Sequence[Column], variants: Sequence[dict[str, str]], repeat: int
) -> list[dict[str, Any]]:
    """Every run of the matrix in order: variants outermost, then the baseline and each fault, then repeats."""
    plan = []
    for variant in variants:
        for column in columns:
            for r in range(1, repeat + 1):
                plan.append({"column": column, "vars": variant, "repeat": r})
    return plan


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:60] or "run"


class _Interrupts:
    """SIGINT once: finish the current run, then stop; twice: stop now (KeyboardInterrupt)."""

    def __init__(self) -> None:
        self.requested = False
        self._old: Any = None

    def __enter__(self) -> _Interrupts:
        self._old = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        click.echo("Ctrl-C: stopping after the current run (again to stop now)", err=True)

    def __exit__(self, *exc: object) -> None:
        signal.signal(signal.SIGINT, self._old)


def _fmt_s(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def _one_line_result(row: dict[str, Any]) -> str:
    if row.get("failed"):
        return f"failed: {row['failed']}"
    bits = []
    for s in row.get("streams", []):
        extra = s.get("net_error") or (f"close {s['close_code']}" if s.get("close_code") is not None else "")
        bits.append(f"{s['kind']} {s.get('cause_kind')}" + (f" {extra}" if extra else ""))
    if row.get("error_page"):
        bits.append(f"error page: {row.get('error_page_text')}")
    return "; ".join(bits) or "no streams"


@click.command("matrix")
@click.argument("run_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Directory for matrix.csv/json/html and runs/<id>/ (an earlier matrix there is replaced).",
)
@click.option(
    "--fault",
    "faults",
    multiple=True,
    metavar="SPEC",
    help="A fault column in the one-line form, e.g. abort:stream=sse,after_messages=3 (repeatable; "
    "add leg=backend for the Caddy -> app leg).",
)
@click.option(
    "--faults",
    "fault_files",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE.toml",
    help="A file of [[fault]] tables, each a column (repeatable).",
)
@click.option(
    "--vary",
    multiple=True,
    metavar="NAME=V1,V2",
    help="Repeat every column over these values of a run variable.",
)
@click.option(
    "--var", "var", multiple=True, metavar="NAME=VALUE", help="Set a [vars] variable for every run."
)
@click.option("--repeat", default=1, show_default=True, type=click.IntRange(1, 100), help="Runs per cell.")
@click.option("--seed", type=int, default=None, help="Seed for probabilistic faults without one (recorded).")
@click.option(
    "--symptom",
    "symptoms",
    multiple=True,
    metavar="TEXT",
    help="A field report (ERR_HTTP2_PROTOCOL_ERROR, 1006, 'Error code: 11', a console text); "
    "the faults are ranked by how many runs showed every one.",
)
@click.option("--no-baseline", is_flag=True, help="Leave out the run with no added fault.")
def matrix_command(
    run_file: Path,
    out: Path,
    faults: tuple[str, ...],
    fault_files: tuple[Path, ...],
    vary: tuple[str, ...],
    var: tuple[str, ...],
    repeat: int,
    seed: int | None,
    symptoms: tuple[str, ...],
    no_baseline: bool,
) -> None:
    """Run a run file under many faults (and variants); tabulate the symptoms.

    One baseline run with no added fault, then one run per fault per variant,
    --repeat times, each in OUT/runs/<id>/ with its own report; then
    OUT/matrix.csv, matrix.json and matrix.html. --symptom ranks the faults.
    """
    from tearline.lab.browser import check_chromium
    from tearline.runs.driver import execute_run

    base_vars = parse_var_options(var, "--var")
    variants = parse_vary(vary)
    for variant in variants:  # every variant must load before anything starts
        load_run_file(run_file, base_vars | variant)
    columns = ([] if no_baseline else [Column(label="none", fault=None)]) + parse_fault_columns(
        faults, fault_files
    )
    if not columns:
        raise UsageError(
            "nothing to run", place="--no-baseline", hint="give --fault or --faults, or keep the baseline"
        )
    check_chromium()
    out_dir = prepare_dir(out, "matrix.json")
    _clear_runs(out_dir)
    plan = plan_runs(columns, variants, repeat)
    rows: list[dict[str, Any]] = []
    started = time.monotonic()
    interrupted = False
    click.echo(
        f"tearline matrix: {len(plan)} runs of {run_file} ({len(columns)} columns x {len(variants)} variants x {repeat})"
    )
    with _Interrupts() as interrupts:
        for i, item in enumerate(plan, 1):
            if interrupts.requested:
                interrupted = True
                break
            column, seed_used = _with_seed(item["column"], seed, item["repeat"])
            variant = item["vars"]
            run_id = f"{i:03d}-{_slug(column.label)}" + (
                f"-{_slug('-'.join(variant.values()))}" if variant else ""
            )
            run_id += f"-r{item['repeat']}" if repeat > 1 else ""
            label = column.label + "".join(f" {k}={v}" for k, v in variant.items())
            done = time.monotonic() - started
            eta = f", ETA {_fmt_s(done / (i - 1) * (len(plan) - i + 1))}" if i > 1 else ""
            click.echo(f"[{i}/{len(plan)}] {label} #{item['repeat']} ... (elapsed {_fmt_s(done)}{eta})")
            row: dict[str, Any] = {
                "id": run_id,
                "fault": column.label,
                "leg": column.fault.leg if column.fault else None,
                "vars": variant,
                "repeat": item["repeat"],
                "seed": seed_used,
                "report": f"runs/{run_id}/report.html",
            }
            t0 = time.monotonic()
            try:
                rf = load_run_file(run_file, base_vars | variant)
                if column.fault is not None:
                    rf = dataclasses.replace(rf, faults=(*rf.faults, column.fault))
                result = execute_run(
                    rf,
                    out_dir / "runs" / run_id,
                    title=f"tearline matrix: {label}",
                    extra={"matrix_id": run_id},
                )
                row |= {k: result.record.get(k) for k in _RECORD_KEYS}
            except KeyboardInterrupt:
                row["failed"] = "interrupted"
                interrupted = True
            except (TearlineError, Exception) as e:  # one run failing is a result, not the end of the matrix
                row["failed"] = " ".join(str(e).split())[:300] or type(e).__name__
            row["seconds"] = round(time.monotonic() - t0, 1)
            rows.append(row)
            click.echo(f"      {row['seconds']:.1f} s: {_one_line_result(row)}")
            if interrupted:
                break
        interrupted = interrupted or (interrupts.requested and len(rows) < len(plan))
    ranking = rank(rows, symptoms)
    files = write_outputs(
        out_dir,
        run_file=str(run_file),
        rows=rows,
        symptoms=symptoms,
        ranking=ranking,
        seed=seed,
        interrupted=interrupted,
        planned=len(plan),
    )
    if symptoms:
        click.echo(f"Ranking by runs showing {' + '.join(repr(s) for s in symptoms)}:")
        for n, r in enumerate(ranking, 1):
            click.echo(f"  {n}. {r['matched']}/{r['of']}  {r['fault']}")
    click.echo(
        "Wrote: "
        + ", ".join(str(p.relative_to(Path.cwd())) if p.is_relative_to(Path.cwd()) else str(p) for p in files)
    )
    if interrupted:
        click.echo(f"Interrupted: {len(rows)} of {len(plan)} runs in the table.", err=True)
        sys.exit(130)


_RECORD_KEYS = (
    "error_page",
    "error_page_text",
    "main_frame_error",
    "console_errors",
    "console_error_lines",
    "streams",
    "backend_went_on_s",
    "step_error",
    "expect_failures",
    "page_url",
)


def _clear_runs(out_dir: Path) -> None:
    import shutil

    for name in ("matrix.csv", "matrix.json", "matrix.html"):
        (out_dir / name).unlink(missing_ok=True)
    runs = out_dir / "runs"
    if runs.is_dir():
        shutil.rmtree(runs)
