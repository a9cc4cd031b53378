"""tearline.faults.cli: `tearline faults` through the real CLI group."""

from pathlib import Path

from click.testing import CliRunner

from tearline.cli import cli
from tearline.faults.reference import render_markdown


def test_list() -> None:
    r = CliRunner().invoke(cli, ["faults"])
    assert r.exit_code == 0 and "close " in r.output and "bytes_per_s" in r.output


def test_markdown() -> None:
    r = CliRunner().invoke(cli, ["faults", "--markdown"])
    assert r.exit_code == 0 and r.output == render_markdown()


def test_check_good_and_bad(tmp_path: Path) -> None:
    good = tmp_path / "g.toml"
    good.write_text("[[fault]]\naction = 'close'\ncode = 4001\n")
    r = CliRunner().invoke(cli, ["faults", "check", str(good)])
    assert r.exit_code == 0 and "g.toml#1: close" in r.output and "1 fault(s), OK" in r.output
    bad = tmp_path / "b.toml"
    bad.write_text("[[fault]]\naction = 'close'\ncode = 4001\ntoo = 'client'\n")
    r = CliRunner().invoke(cli, ["faults", "check", str(bad)])
    assert r.exit_code == 2
    assert "Error:" in r.output and "did you mean 'to'?" in r.output and "Traceback" not in r.output
