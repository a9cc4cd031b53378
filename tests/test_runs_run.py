"""`tearline run`: the bundled incident's run file end to end through the real console script (Chromium,
Caddy, two mitmdump taps), and its expectations failing with exit status 1."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NAV_AWAY = ROOT / "examples" / "runs" / "incident-nav-away.toml"
TEARLINE = str(Path(sys.executable).with_name("tearline"))

pytestmark = [pytest.mark.browser, pytest.mark.caddy, pytest.mark.slow]


def tearline(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([TEARLINE, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def test_a_run_of_the_incident_diagnoses_client_navigation(tmp_path: Path) -> None:
    result = tearline("run", str(NAV_AWAY), "-o", "D", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    out = tmp_path / "D"
    for name in (
        "netlog.json",
        "cdp.jsonl",
        "console.log",
        "page.har",
        "capture-browser.jsonl",
        "capture-backend.jsonl",
        "caddy.log",
        "caddy.json",
        "backend.log",
        "screenshot.png",
        "diagnosis.json",
        "report.html",
        "run.json",
    ):
        assert (out / name).stat().st_size > 0, name
    assert "client_navigation by browser" in result.stdout
    diagnosis = json.loads((out / "diagnosis.json").read_text())
    assert {(s["kind"], s["cause"]["kind"]) for s in diagnosis["streams"]} == {
        ("sse", "client_navigation"),
        ("ws", "client_navigation"),
    }
    assert "client_navigation" in (out / "report.html").read_text()
    record = json.loads((out / "run.json").read_text())
    assert record["error_page"] is False and record["expect_failures"] == []
    assert record["vars"]["fix"] == "none"
    sse = next(s for s in record["streams"] if s["kind"] == "sse")
    assert sse["net_error"] == "ERR_ABORTED"
    assert record["backend_went_on_s"] is not None and record["backend_went_on_s"] >= 0
    assert (out / "screenshot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out.stat().st_mode & 0o777 == 0o700  # a run folder is its owner's only
    assert (out / "capture-browser.jsonl").stat().st_mode & 0o777 == 0o600


def test_a_failed_expectation_and_a_failed_step_exit_1(tmp_path: Path) -> None:
    text = (
        NAV_AWAY.read_text()
        .replace(
            'cause = ["client_navigation", "client_app_close"]\n\n[[expect.stream]]\nurl = "/ws"',
            'cause = ["stall"]\n\n[[expect.stream]]\nurl = "/ws"',
        )
        .replace('click = "#away"', 'click = "#no-such-link"\ntimeout = 1500')
    )
    assert 'cause = ["stall"]' in text and "#no-such-link" in text
    run_file = tmp_path / "broken.toml"
    run_file.write_text(text)
    result = tearline("run", str(run_file), "-o", "D", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "step failed: step 3 (click '#no-such-link') failed: TimeoutError" in result.stdout
    assert "expect failed: sse http://ai.localhost:" in result.stdout and "expected stall" in result.stdout
    record = json.loads((tmp_path / "D" / "run.json").read_text())
    assert record["step_error"].startswith("step 3")
