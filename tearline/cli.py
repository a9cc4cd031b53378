"""The ``tearline`` command: a thin click group over the library.

Each subcommand lives in the module that owns its concept and is imported
only when it runs (``COMMANDS``), so ``tearline --help`` stays fast and a
command's heavy imports (pandas, matplotlib) are paid only by that command.

Errors: a ``TearlineError`` raised anywhere below becomes ``Error: <one line>``
on stderr and exit status 2; never a traceback.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from tearline import __version__
from tearline.errors import TearlineError

# name -> ("module:attribute" of a click.Command, one-line help for `tearline --help`).
# One literal table; `tearline --help` reads it without importing the commands.
COMMANDS: dict[str, tuple[str, str]] = {
    "summary": (
        "tearline.analysis.summary.table:summary_command",
        "One line per stream of a capture: kind, URL, counts, end.",
    ),
    "faults": (
        "tearline.faults.cli:faults_command",
        "List the faults tearline can inject; check a scenario.",
    ),
    "diagnose": (
        "tearline.analysis.diagnose.cli:diagnose_command",
        "Name the root cause of every stream's end.",
    ),
    "explain": (
        "tearline.analysis.explain.symptoms:explain_command",
        "What a Chrome error, net error or close code means.",
    ),
    "report": (
        "tearline.analysis.report.cli:report_command",
        "Write a self-contained HTML timeline report (and PNG).",
    ),
    "export": (
        "tearline.analysis.export.parquet:export_command",
        "Write a capture as Parquet, for DuckDB or pandas.",
    ),
    "demo": ("tearline.lab.demo:demo_command", "Reproduce the bundled incident end to end and report it."),
    "run": ("tearline.runs.cli:run_command", "Run a run file against an app, record both legs, diagnose."),
    "matrix": (
        "tearline.runs.matrix:matrix_command",
        "Run a run file under many faults; rank them by symptom.",
    ),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module_name, _, attr = entry[0].partition(":")
        module = importlib.import_module(module_name)
        command = getattr(module, attr)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TearlineError as e:
            click.echo(f"Error: {e}", err=True)
            ctx.exit(2)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tearline")
def cli() -> None:
    """Find out why WebSocket and streaming connections die.

    Record with `mitmdump -s addons/ws_trace.py`, inject faults with
    `-s addons/faults.py`, then read the capture with the commands below.
    """


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    try:
        cli.main(args=argv, prog_name="tearline")
    except TearlineError as e:  # raised outside invoke (e.g. while building a command)
        click.echo(f"Error: {e}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
