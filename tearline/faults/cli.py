"""``tearline faults``: list the faults, print docs/faults.md, check a scenario."""

from __future__ import annotations

import click

from tearline.faults.reference import render_markdown, render_text
from tearline.faults.scenario import load_scenario, table_keys

__all__ = ["faults_command"]


@click.group("faults", invoke_without_command=True)
@click.option("--markdown", is_flag=True, help="Print the fault reference as Markdown (docs/faults.md).")
@click.pass_context
def faults_command(ctx: click.Context, markdown: bool) -> None:
    """List the faults tearline can inject, with each parameter's type, unit and default.

    Example: tearline faults; tearline faults --markdown > docs/faults.md;
    tearline faults check examples/scenarios/close-4001.toml
    """
    if ctx.invoked_subcommand is not None:
        return
    click.echo(render_markdown() if markdown else render_text(), nl=False)


@faults_command.command("check")
@click.argument("scenario", type=click.Path(dir_okay=False))
def check_command(scenario: str) -> None:
    """Validate a scenario file; print each fault as tearline understood it."""
    specs = load_scenario(scenario)
    for spec in specs:
        keys = ", ".join(f"{k}={v!r}" for k, v in table_keys(spec).items() if k != "action")
        click.echo(f"{spec.fault_id}: {spec.action} {keys}")
    click.echo(f"{scenario}: {len(specs)} fault(s), OK")
