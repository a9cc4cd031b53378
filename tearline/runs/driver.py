"""One run: start what the run file needs, drive Chromium through its steps, collect, diagnose, report.

::

    Chromium ──► browser tap ──► the app (bundled: Caddy ──► backend tap ──► agent;
                 (mitmdump)       user's: upstream =, or Caddy from caddyfile = with a tap per upstream)

``execute_run(run_file, out_dir)`` writes into ``out_dir``: ``netlog.json``,
``cdp.jsonl``, ``console.log``, ``page.har``, ``capture-browser.jsonl`` (and
``capture-backend*.jsonl``), ``caddy.log`` and the JSON config Caddy ran
(``caddy.json``), ``backend.log``, ``screenshot.png``, then
``diagnosis.json``/``.txt``, ``report.html``, ``timeline.png`` and
``run.json`` (what the run showed: ``tearline.runs.symptoms``). Every process
it started is stopped when it returns or raises (Ctrl-C included): they all
live in one ``ExitStack``.
"""

from __future__ import annotations

import importlib
import json
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

from tearline.errors import UsageError
from tearline.lab.browser import CHROMIUM_ARGS, record_browser
from tearline.lab.run_files import diagnose_args
from tearline.runs.apps import APPS
from tearline.runs.launch import AppSite, LaunchContext, Tap, start_tap
from tearline.runs.model import RunFile
from tearline.runs.steps import Live, StepFailed, do_step
from tearline.runs.symptoms import check_expect, run_symptoms

__all__ = ["RunResult", "execute_run"]

_LOOPBACK_HOSTS = ("localhost", "127.0.0.1")


@dataclass(kw_only=True)
class RunResult:
    out_dir: Path
    page_url: str
    started_at: float
    ended_at: float
    captures: list[Path]
    netlog: Path
    cdp: Path
    har: Path
    console: Path
    caddy_log: Path | None
    caddy_config: Path | None
    backend_log: Path | None
    screenshot: Path | None
    step_error: str | None
    step_times: list[dict[str, Any]]
    ports: list[int]
    diagnosis: Any = None  # tearline.analysis.diagnose.model.Diagnosis, None without the analysis side
    record: dict[str, Any] = field(default_factory=dict)  # run.json
    expect_failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def diagnose_args(self) -> list[str]:
        return diagnose_args(
            self.captures,
            netlog=self.netlog,
            cdp=self.cdp,
            har=self.har,
            console=self.console,
            caddy_log=self.caddy_log,
            caddy_config=self.caddy_config,
        )


def _resolver_args(host: str) -> tuple[str, ...]:
    """Chromium flags sending ``host`` to 127.0.0.1 (every other name still fails, as in the lab)."""
    if host in _LOOPBACK_HOSTS or host.endswith(".localhost"):
        return ()
    rules = next(a for a in CHROMIUM_ARGS if a.startswith("--host-resolver-rules="))
    return (rules.replace("=", f"=MAP {host} 127.0.0.1, ", 1),)


def _launch_app(rf: RunFile, ctx: LaunchContext) -> AppSite:
    t = rf.target
    if t.app is not None:
        module, _, attr = APPS[t.app].launcher.partition(":")
        launcher = getattr(importlib.import_module(module), attr)
        return cast(AppSite, launcher(ctx))
    assert t.url is not None
    parts = urlsplit(t.url)
    if t.caddyfile is not None:
        from tearline.runs.user_caddy import launch_user_caddy

        return launch_user_caddy(ctx, Path(t.caddyfile), url=t.url, upstream=t.upstream, source=rf.source)
    assert t.upstream is not None
    return AppSite(front=t.upstream, host=parts.hostname or "localhost", scheme=parts.scheme)


def _page_url(rf: RunFile, site: AppSite, tap: Tap) -> str:
    if rf.target.app is not None:
        return f"{site.scheme}://{site.host}:{tap.port}{rf.target.path}"
    assert rf.target.url is not None
    parts = urlsplit(rf.target.url)
    return urlunsplit((parts.scheme, f"{parts.hostname}:{tap.port}", parts.path or "/", parts.query, ""))


def _page_state(live: Live, out_dir: Path) -> dict[str, Any]:
    """Whether an error page shows (a crashed tab, a failed main-frame load), its text, and a screenshot."""
    state: dict[str, Any] = {"crashed": any("] page crashed" in ln for ln in live.browser.console_lines)}
    state["final_url"] = None
    state["error_page_text"] = None
    shot = out_dir / "screenshot.png"
    if live.closed or state["crashed"]:
        return state | {"screenshot": None}
    page = live.browser.page
    try:
        state["final_url"] = page.url
        if page.url.startswith("chrome-error://"):
            state["error_page_text"] = " ".join(page.inner_text("body", timeout=5000).split())[:500]
        page.screenshot(path=str(shot), timeout=10_000)
    except Exception:  # the page went away meanwhile: no picture, the rest of the evidence stands
        return state | {"screenshot": None}
    return state | {"screenshot": shot}


def _collect_backend_log(src: Path, start: int, out_dir: Path) -> Path | None:
    """The lines the back end wrote to ``src`` during the run, copied to ``out_dir/backend.log``."""
    try:
        with src.open("rb") as f:
            f.seek(start)
            data = f.read()
    except OSError:
        return None
    dest = out_dir / "backend.log"
    dest.write_bytes(data)
    return dest


def _diagnose(result: RunResult) -> Any:
    try:
        from tearline.analysis.diagnose.diagnosis import diagnose
        from tearline.analysis.evidence.load import load_evidence
    except ImportError:
        return None
    records = load_evidence(
        captures=[c for c in result.captures if c.exists()],
        netlog=result.netlog,
        cdp=result.cdp,
        har=result.har,
        console=result.console if result.console.exists() and result.console.stat().st_size else None,
        caddy_log=result.caddy_log if result.caddy_log and result.caddy_log.exists() else None,
    )
    timers = []
    if result.caddy_config is not None and result.caddy_config.exists():
        from tearline.analysis.evidence.caddyconfig import load_caddy_config

        timers = load_caddy_config(result.caddy_config)  # Caddy's timers, so a timer's end is named
    return diagnose(records, timers=timers)


def _write_diagnosis(diagnosis: Any, out: Path, title: str, report: bool) -> dict[str, Any]:
    from tearline.analysis.diagnose.cli import format_text

    (out / "diagnosis.txt").write_text(format_text(diagnosis) + "\n")
    data: dict[str, Any] = diagnosis.to_dict()
    (out / "diagnosis.json").write_text(json.dumps(data, indent=2, allow_nan=False, default=str) + "\n")
    if report:
        try:
            from tearline.analysis.report.page import render_report
        except ImportError:
            return data
        render_report(diagnosis, out / "report.html", png=out / "timeline.png", title=title)
    plain: dict[str, Any] = json.loads(json.dumps(data, default=str))
    return plain


def _cdp_events(path: Path) -> list[dict[str, Any]]:
    out = []
    if path.exists():
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
    return out


def execute_run(
    rf: RunFile,
    out_dir: Path,
    *,
    title: str | None = None,
    report: bool = True,
    extra: dict[str, Any] | None = None,
) -> RunResult:
    """Run ``rf`` with its files in ``out_dir`` (created); return what happened. See the module doc."""
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)  # run folders: owner only
    started = time.time()
    step_error: str | None = None
    ports: list[int] = []
    user_log = Path(rf.target.backend_log) if rf.target.backend_log else None
    user_log_start = user_log.stat().st_size if user_log is not None and user_log.exists() else 0
    with ExitStack() as stack:
        ctx = LaunchContext(
            out_dir=out_dir,
            stack=stack,
            tls=rf.target.tls,
            options=rf.target.options,
            backend_faults=rf.faults_on("backend"),
        )
        ctx.tap_factory = lambda upstream, leg, index: start_tap(
            stack,
            out_dir,
            upstream=upstream,
            leg=leg,
            index=index,
            faults=ctx.backend_faults,
        )
        site = _launch_app(rf, ctx)
        if rf.faults_on("backend") and not any(t.leg == "backend" for t in ctx.taps):
            raise UsageError(
                'has leg = "backend" faults but this target has no backend tap',
                path=rf.source,
                place="fault",
                hint="use caddyfile = (or a bundled app) so tearline can tap the back end",
            )
        browser_tap = start_tap(
            stack, out_dir, upstream=site.front, leg="browser", index=0, faults=rf.faults_on("browser")
        )
        ports += [*site.ports, browser_tap.port, *(t.port for t in ctx.taps if t.port)]
        page_url = _page_url(rf, site, browser_tap)
        host = urlsplit(page_url).hostname or "localhost"
        browser = stack.enter_context(
            record_browser(
                out_dir,
                ignore_https_errors=rf.browser.ignore_https_errors,
                extra_args=(*_resolver_args(host), *rf.browser.args),
                headless=rf.browser.headless,
                viewport=rf.browser.viewport,
            )
        )
        live = Live(browser=browser, base_url=page_url, caddy=site.caddy)
        for step in rf.steps:
            try:
                do_step(step, live)
            except StepFailed as e:
                step_error = str(e)
                break
        if not live.closed:
            browser.pump(0.3)
        state = _page_state(live, out_dir)
        recording = browser.recording
    backend_log = site.backend_log
    if user_log is not None:
        backend_log = _collect_backend_log(user_log, user_log_start, out_dir)
    result = RunResult(
        out_dir=out_dir,
        page_url=page_url,
        started_at=started,
        ended_at=time.time(),
        captures=[browser_tap.capture, *site.captures],
        netlog=recording.netlog,
        cdp=recording.cdp,
        har=recording.har,
        console=recording.console,
        caddy_log=site.caddy_log,
        caddy_config=site.caddy_config,
        backend_log=backend_log,
        screenshot=state["screenshot"],
        step_error=step_error,
        step_times=live.step_times,
        ports=ports,
    )
    result.diagnosis = _diagnose(result)
    data = None
    if result.diagnosis is not None:
        data = _write_diagnosis(result.diagnosis, out_dir, title or f"tearline run: {rf.name}", report)
    console_lines = recording.console.read_text(encoding="utf-8", errors="replace").splitlines()
    backend_lines = (
        backend_log.read_text(errors="replace").splitlines() if backend_log and backend_log.exists() else []
    )
    result.record = run_symptoms(
        diagnosis=data,
        cdp_events=_cdp_events(recording.cdp),
        console_lines=console_lines,
        page_state=state,
        step_times=live.step_times,
        backend_lines=backend_lines,
    ) | {
        "name": rf.name,
        "source": rf.source,
        "vars": dict(rf.vars),
        "page_url": page_url,
        "started_at": started,
        "ended_at": result.ended_at,
        "step_error": step_error,
        "ports": ports,
        "files": {
            "captures": [str(c) for c in result.captures],
            "caddy_config": str(site.caddy_config) if site.caddy_config else None,
            "caddy_log": str(site.caddy_log) if site.caddy_log else None,
            "backend_log": str(backend_log) if backend_log else None,
            "screenshot": str(state["screenshot"]) if state["screenshot"] else None,
        },
        **(extra or {}),
    }
    result.expect_failures = check_expect(rf.expect, result.record) if data is not None else []
    result.record["expect_failures"] = result.expect_failures
    (out_dir / "run.json").write_text(json.dumps(result.record, indent=2, default=str) + "\n")
    return result
