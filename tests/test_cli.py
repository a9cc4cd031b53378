"""tearline.cli: the command table, help without imports, errors as one line and exit 2."""

import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from tearline.cli import COMMANDS, cli
from tearline.errors import InputError


def test_help_lists_every_command_without_importing_them():
    code = (
        "import sys; from tearline.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit: pass\n"
        "heavy = [m for m in ('pandas', 'matplotlib', 'mitmproxy') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    for name in COMMANDS:
        assert f"  {name} " in out
    assert "HEAVY []" in out


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_resolves_and_has_help(name):
    runner = CliRunner()
    result = runner.invoke(cli, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    command = cli.get_command(click.Context(cli), name)
    assert isinstance(command, click.Command)
    assert (command.help or "").strip(), f"{name} has no help text"


def test_tearline_error_becomes_one_line_and_exit_2(tmp_path):
    """A real command on a real bad file: its InputError reaches the group as one line, exit 2."""
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n")
    result = CliRunner().invoke(cli, ["summary", str(bad)])
    assert (result.exit_code == 2 and result.exception is None) or isinstance(result.exception, SystemExit)
    assert (
        result.output.strip()
        == f"Error: {bad}:1: the first line is not JSON (pass a tearline capture (.jsonl))"
    )


def test_error_line_from_the_console_script(tmp_path):
    """The same through the installed entry point: no traceback on stderr."""
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n")
    run = subprocess.run(
        [sys.executable, "-c", "from tearline.cli import main; main()", "summary", str(bad)],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert (
        run.stderr.strip() == f"Error: {bad}:1: the first line is not JSON (pass a tearline capture (.jsonl))"
    )


def test_error_format_names_file_line_and_fix():
    err = InputError("not valid JSON", path="x.jsonl", line=3, hint="re-record it")
    assert str(err) == "x.jsonl:3: not valid JSON (re-record it)"


def test_unknown_command_is_a_usage_error():
    result = CliRunner().invoke(cli, ["nosuch"])
    assert result.exit_code == 2
    assert "No such command" in result.output


def test_version():
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0 and "tearline" in result.output
