"""Pytest fixtures for the lab: the incident back end, a real Caddy, a recording headless Chromium,
and recorded evidence scenarios (cached per test session).

- ``incident_backend``: the AG-UI back end on a free 127.0.0.1 port (``RunningBackend``).
- ``start_caddy(sites)``: a real Caddy in ``tmp_path``; stopped at teardown.
- ``chromium``: a recording Chromium (``LiveBrowser``) writing into ``tmp_path / "browser"``;
  closed at teardown (call ``chromium_session.close()`` first to read the finished files).
- ``chrome``: one plain headless Chromium page per test module (``Chrome``: lab flags, DevTools
  ``Network.loadingFailed`` gives the net error name); ``WS_JS``/``FETCH_JS`` are the page scripts it runs.
- ``rec``, ``killed``, ``crash``: the evidence recordings of ``tests/evidence_recording.py``
  (``shared("browser" | "killed" | "crash")``), recorded once per test session on first use.
- ``scenario_bundle(name, caddy=True, proxy=True, tls=False)``: ``record_scenario`` run once per session
  per argument set, so several tests (and other areas' tests) can share one recording.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from tearline.lab.browser import CHROMIUM, CHROMIUM_ARGS, LiveBrowser, record_browser
from tearline.lab.caddy import Caddy, CaddySite, run_caddy
from tearline.lab.incident.backend import RunningBackend, run_backend
from tearline.lab.scenarios import EvidenceBundle, record_scenario
from tests.evidence_recording import shared


@pytest.fixture
def incident_backend(tmp_path: Path) -> Iterator[RunningBackend]:
    with run_backend(tmp_path / "backend.log") as backend:
        yield backend


@pytest.fixture
def start_caddy(tmp_path: Path) -> Iterator[Callable[[Sequence[CaddySite]], Caddy]]:
    with ExitStack() as stack:
        count = 0

        def start(sites: Sequence[CaddySite]) -> Caddy:
            nonlocal count
            count += 1
            return stack.enter_context(run_caddy(sites, tmp_path / f"caddy{count}"))

        yield start


class ChromiumSession:
    """A recording Chromium that a test can close early to read its finished files."""

    def __init__(self, out_dir: Path, proxy: str | None = None) -> None:
        self._stack = ExitStack()
        self.live: LiveBrowser = self._stack.enter_context(record_browser(out_dir, proxy=proxy))

    def close(self) -> None:
        self._stack.close()


@pytest.fixture
def chromium_session(tmp_path: Path) -> Iterator[Callable[..., ChromiumSession]]:
    sessions: list[ChromiumSession] = []

    def start(proxy: str | None = None, out_dir: Path | None = None) -> ChromiumSession:
        s = ChromiumSession(out_dir or tmp_path / f"browser{len(sessions) + 1}", proxy=proxy)
        sessions.append(s)
        return s

    try:
        yield start
    finally:
        for s in sessions:
            s.close()


@pytest.fixture
def chromium(chromium_session: Callable[..., ChromiumSession]) -> LiveBrowser:
    return chromium_session().live


# Page scripts: a WebSocket's CloseEvent plus the messages counted; a streamed fetch() read to the end.
WS_JS = """url => new Promise(resolve => {
  const ws = new WebSocket(url); let n = 0;
  ws.onmessage = () => n++;
  ws.onclose = e => resolve({code: e.code, reason: e.reason, wasClean: e.wasClean, messages: n});
})"""

FETCH_JS = """url => fetch(url).then(async r => {
  const reader = r.body.getReader(); let n = 0;
  try { for (;;) { const {done, value} = await reader.read(); if (done) return {ok: true, bytes: n}; n += value.length; } }
  catch (e) { return {ok: false, bytes: n, error: String(e)}; }
}, e => ({ok: false, bytes: 0, error: String(e)}))"""


class Chrome:
    """One headless Chromium page (lab flags); DevTools ``Network.loadingFailed`` gives the net error name."""

    def __init__(self) -> None:
        from playwright.sync_api import sync_playwright

        self._pw = sync_playwright().start()
        try:
            self.browser = self._pw.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=list(CHROMIUM_ARGS)
            )
        except Exception:
            self._pw.stop()
            raise
        self.page = self.browser.new_page()
        self.failed: list[str] = []
        cdp = self.page.context.new_cdp_session(self.page)
        cdp.on("Network.loadingFailed", lambda p: self.failed.append(p.get("errorText", "")))
        cdp.send("Network.enable")

    def websocket(self, origin: str, url: str) -> dict[str, Any]:
        """Open ``origin``/ then the WebSocket ``url``; its CloseEvent (code, reason, wasClean) and message count."""
        self.page.goto(origin + "/")
        return dict(self.page.evaluate(WS_JS, url))

    def fetch(self, origin: str, path: str, wait_s: float = 10.0) -> dict[str, Any]:
        """Open ``origin``/ then fetch ``origin + path`` to its end: ok, bytes, error (JS text) and
        ``net_error`` (the DevTools error name, waited for up to ``wait_s`` seconds after a failure)."""
        self.page.goto(origin + "/")
        self.failed.clear()
        result = dict(self.page.evaluate(FETCH_JS, origin + path))
        deadline = time.monotonic() + wait_s
        while not self.failed and not result["ok"] and time.monotonic() < deadline:
            self.page.wait_for_timeout(50)
        result["net_error"] = self.failed[-1] if self.failed else None
        return result

    def close(self) -> None:
        try:
            self.browser.close()
        finally:
            self._pw.stop()


@pytest.fixture(scope="module")
def chrome() -> Iterator[Chrome]:
    c = Chrome()
    try:
        yield c
    finally:
        c.close()


@pytest.fixture(scope="module")
def rec(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The scripted page visit (``Recording``): NetLog, CDP, HAR and console of one run."""
    return shared("browser", tmp_path_factory)


@pytest.fixture(scope="module")
def killed(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A Chromium SIGKILLed mid-run (``KilledRun``): a NetLog without its closing brackets."""
    return shared("killed", tmp_path_factory)


@pytest.fixture(scope="module")
def crash(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A renderer crash under an open WebSocket and EventSource (``CrashRecording``)."""
    return shared("crash", tmp_path_factory)


@pytest.fixture(scope="session")
def scenario_bundle(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., EvidenceBundle]:
    cache: dict[tuple[str, bool, bool, bool], EvidenceBundle] = {}

    def get(name: str, *, caddy: bool = True, proxy: bool = True, tls: bool = False) -> EvidenceBundle:
        key = (name, caddy, proxy, tls)
        if key not in cache:
            out = tmp_path_factory.mktemp(
                f"{name}-{'caddy' if caddy else 'direct'}-{'proxy' if proxy else 'noproxy'}{'-tls' if tls else ''}"
            )
            cache[key] = record_scenario(name, out, caddy=caddy, proxy=proxy, tls=tls)
        return cache[key]

    return get
