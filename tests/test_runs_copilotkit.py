"""`tearline run` on the real CopilotKit stack (``app = "copilotkit"``): Next.js + CopilotKit's runtime,
the LangGraph agent over AG-UI, Caddy with ``tls internal`` (HTTP/2), a tap on each side of Caddy and
headless Chromium. The user clicks away mid-answer: only the run stream is cut by the navigation."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.real_app import REAL_APP_MARKS, require_real_app

ROOT = Path(__file__).resolve().parents[1]
NAV_AWAY = ROOT / "examples" / "runs" / "copilotkit-nav-away.toml"
TEARLINE = str(Path(sys.executable).with_name("tearline"))

pytestmark = REAL_APP_MARKS

require_real_app()


def test_a_run_of_the_real_stack_names_the_navigation(tmp_path: Path) -> None:
    from tearline.lab.copilotkit.build import ensure_app

    ensure_app()  # npm ci + next build once (cached), outside the run's own time
    result = subprocess.run(
        [TEARLINE, "run", str(NAV_AWAY), "-o", "D", "--var", "tokens=120"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = tmp_path / "D"
    for name in ("capture-browser.jsonl", "capture-agent.jsonl", "netlog.json", "caddy.log", "agent.log"):
        assert (out / name).stat().st_size > 0, name
    record = json.loads((out / "run.json").read_text())
    assert record["error_page"] is False and record["expect_failures"] == []
    runtime = [s for s in record["streams"] if "/api/copilotkit" in s["url"]]
    cut = [s for s in runtime if s["cause_kind"] == "client_navigation"]
    assert len(cut) == 1 and cut[0]["net_error"] == "ERR_ABORTED", runtime
    # why the others are not client_navigation: info and agent/connect had finished before the click
    assert {s["cause_kind"] for s in runtime if s not in cut} == {"clean_close"}, runtime
    # the hop between Caddy and the agent was recorded by the back-end tap, and it was not cut
    diagnosis = json.loads((out / "diagnosis.json").read_text())
    agent = [s for s in diagnosis["streams"] if s["url"].endswith("/agent")]
    assert agent and all(s["cause"]["kind"] != "client_navigation" for s in agent), agent
