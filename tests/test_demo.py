"""tearline demo: the bundled incident end to end, through the real console script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tearline.lab.scenarios import EvidenceBundle

TEARLINE = str(Path(sys.executable).with_name("tearline"))


def run_demo(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TEARLINE, "demo", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


@pytest.mark.browser
@pytest.mark.caddy
@pytest.mark.slow
def test_demo_end_to_end(tmp_path: Path) -> None:
    result = run_demo(cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = tmp_path / "out" / "demo"
    for name in (
        "netlog.json",
        "cdp.jsonl",
        "console.log",
        "page.har",
        "caddy.log",
        "backend.log",
        "capture-browser.jsonl",
        "capture-backend.jsonl",
        "bundle.json",
        "diagnosis.txt",
        "diagnosis.json",
        "report.html",
        "timeline.png",
    ):
        assert (out / name).stat().st_size > 0, name
    text = result.stdout
    assert "Recorded in out/demo/" in text
    assert "client_navigation by browser" in text
    assert "(as expected for this scenario)" in text
    assert "Error code: 11" in text
    assert "tearline diagnose out/demo/capture-browser.jsonl" in text
    # the re-run command names everything the demo diagnosed with, Caddy's config (its timers) too
    assert "--caddy-config out/demo/caddy.json" in text
    assert (out / "caddy.json").stat().st_size > 0
    diagnosis = json.loads((out / "diagnosis.json").read_text())
    kinds = {(s["kind"], s["cause"]["kind"]) for s in diagnosis["streams"]}
    assert kinds == {("sse", "client_navigation"), ("ws", "client_navigation")}
    assert (out / "timeline.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = (out / "report.html").read_text()
    assert "client_navigation" in html or "navigated away" in html

    # a second run replaces the earlier demo in place
    again = run_demo("--scenario", "server_abrupt_close", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "server_abrupt_close by server" in again.stdout
    assert json.loads((out / "bundle.json").read_text())["scenario"] == "server_abrupt_close"


def test_missing_chromium_is_one_line_and_exit_2(tmp_path: Path) -> None:
    env = dict(os.environ, TEARLINE_CHROMIUM=str(tmp_path / "no-chromium"))
    result = run_demo("--out", str(tmp_path / "demo"), cwd=tmp_path, env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: Chromium not found at")
    assert "apt-get install -y chromium" in lines[0]
    assert not (tmp_path / "demo").exists()  # nothing started, nothing written


def test_refuses_a_directory_that_is_not_an_earlier_demo(tmp_path: Path) -> None:
    precious = tmp_path / "mine"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    result = run_demo("--out", str(precious), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "not an earlier tearline demo" in result.stderr
    assert (precious / "notes.txt").read_text() == "keep me"


def test_unknown_scenario_is_a_usage_error(tmp_path: Path) -> None:
    result = run_demo("--scenario", "nope", cwd=tmp_path)
    assert result.returncode == 2
    assert "unknown scenario 'nope'" in result.stderr and "client_navigation" in result.stderr


@pytest.mark.browser
@pytest.mark.caddy
@pytest.mark.slow
def test_without_the_analysis_side_the_demo_prints_the_summary(
    scenario_bundle: Callable[..., EvidenceBundle],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tearline.lab import demo

    bundle = scenario_bundle("client_navigation")
    monkeypatch.setitem(
        sys.modules, "tearline.analysis.diagnose.diagnosis", None
    )  # import fails like a missing module
    assert demo._diagnose(bundle) is None
    demo._summary_fallback(bundle)
    out = capsys.readouterr().out
    assert "The diagnosis is not installed here" in out
    ws_lines = [line for line in out.splitlines() if line.startswith("ws ")]
    assert len(ws_lines) == 2 and all("close 1001 by client" in line for line in ws_lines)  # both legs


@pytest.mark.browser
@pytest.mark.caddy
@pytest.mark.slow
def test_demo_over_tls(tmp_path: Path) -> None:
    result = run_demo("--tls", "--out", "tls-demo", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "all on 127.0.0.1, HTTPS" in result.stdout
    assert "client_navigation by browser" in result.stdout
    bundle = json.loads((tmp_path / "tls-demo" / "bundle.json").read_text())
    assert bundle["page_url"].startswith("https://www.localhost:")
    caddy = [json.loads(x) for x in (tmp_path / "tls-demo" / "caddy.log").read_text().splitlines()]
    assert any(x.get("request", {}).get("proto") == "HTTP/2.0" for x in caddy)


def test_an_earlier_demo_loses_its_own_files_only(tmp_path: Path) -> None:
    from tearline.lab.demo import prepare_out_dir

    out = tmp_path / "demo"
    (out / "mitmproxy-conf").mkdir(parents=True)
    (out / "mitmproxy-conf" / "mitmproxy-ca.pem").write_text("ca")
    for name in ("bundle.json", "caddy.log", "capture-backend.jsonl", "report.html", "timeline.png"):
        (out / name).write_text("earlier demo")
    (out / "notes.txt").write_text("keep me")
    assert prepare_out_dir(out) == out.resolve()
    left = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert left == ["mitmproxy-conf/mitmproxy-ca.pem", "notes.txt"]
