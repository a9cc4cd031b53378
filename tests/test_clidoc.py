"""docs/cli.md is generated from the commands' help and must not drift."""

from pathlib import Path

from tearline import clidoc
from tearline.cli import COMMANDS

DOC = Path(__file__).resolve().parent.parent / "docs" / "cli.md"


def test_cli_reference_is_up_to_date():
    expected = clidoc.render()
    assert DOC.read_text(encoding="utf-8") == expected, (
        "docs/cli.md is stale: run `.venv/bin/python -m tearline.clidoc > docs/cli.md`"
    )


def test_every_command_has_a_section():
    text = clidoc.render()
    for name in COMMANDS:
        assert f"## `tearline {name}`" in text
        assert f"Usage: tearline {name}" in text
