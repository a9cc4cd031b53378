"""A real headless Chromium that records everything a user could export: NetLog, DevTools events, console, HAR.

``record_browser(out_dir)`` launches ``/usr/bin/chromium`` through Playwright's
Python API with the lab flags, ``--log-net-log`` in ``Everything`` mode, a
DevTools (CDP) session on the page with the Network, Page, Runtime, Log and
Inspector domains enabled, plus the browser's ``Target.targetCrashed`` (every
event written as one JSON line ``{"method", "params"}``), the console written as timestamped text lines, and a
HAR recorded by Playwright. Leaving the ``with`` block closes the context (the
HAR is written) and then the browser (Chromium finishes the NetLog), so the
files are complete; ``BrowserRecording`` holds their paths.

Console line format (one per message)::

    2026-11-26T01:20:03.123456Z [log] stream: RUN_STARTED

Times are the wall clock when Playwright delivered the message (UTC, microseconds).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from tearline.errors import UsageError

__all__ = [
    "CDP_EVENTS",
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "BrowserRecording",
    "LiveBrowser",
    "check_chromium",
    "record_browser",
]

# The Chromium the lab drives; TEARLINE_CHROMIUM overrides it (another install, or a test of a missing one).
CHROMIUM = os.environ.get("TEARLINE_CHROMIUM", "/usr/bin/chromium")

# The lab's fixed flags: no network beyond loopback, no background noise.
CHROMIUM_ARGS: tuple[str, ...] = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE *.localhost, EXCLUDE 127.0.0.1",
)

# DevTools events recorded, per domain. CDP has no wildcard subscription, so they are listed.
CDP_EVENTS: dict[str, tuple[str, ...]] = {
    "Network": (
        "requestWillBeSent",
        "requestWillBeSentExtraInfo",
        "responseReceived",
        "responseReceivedExtraInfo",
        "dataReceived",
        "loadingFinished",
        "loadingFailed",
        "requestServedFromCache",
        "resourceChangedPriority",
        "eventSourceMessageReceived",
        "webSocketCreated",
        "webSocketWillSendHandshakeRequest",
        "webSocketHandshakeResponseReceived",
        "webSocketFrameSent",
        "webSocketFrameReceived",
        "webSocketFrameError",
        "webSocketClosed",
    ),
    "Page": (
        "frameRequestedNavigation",
        "frameStartedNavigating",
        "frameStartedLoading",
        "frameNavigated",
        "frameStoppedLoading",
        "frameDetached",
        "frameAttached",
        "navigatedWithinDocument",
        "domContentEventFired",
        "loadEventFired",
        "lifecycleEvent",
        "javascriptDialogOpening",
        "backForwardCacheNotUsed",
        "windowOpen",
    ),
    "Runtime": (
        "consoleAPICalled",
        "exceptionThrown",
        "executionContextCreated",
        "executionContextDestroyed",
        "executionContextsCleared",
    ),
    "Log": ("entryAdded",),
    "Inspector": ("targetCrashed", "detached", "targetReloadedAfterCrash"),
}

# Domains that need an explicit ``<Domain>.enable`` (Inspector reports without one).
_ENABLE = ("Network", "Page", "Runtime", "Log", "Inspector")


@dataclass(frozen=True, kw_only=True, slots=True)
class BrowserRecording:
    """Paths of what one Chromium session recorded (complete once the session has closed)."""

    netlog: Path  # Chrome NetLog JSON (--log-net-log, capture mode Everything)
    cdp: Path  # JSON Lines of {"method", "params"} DevTools events
    console: Path  # text lines "<ISO UTC time> [<type>] <text>"
    har: Path  # HAR 1.2 written by Playwright (WebSocket messages in _webSocketMessages, ms)


@dataclass(kw_only=True)
class LiveBrowser:
    """An open recording session: drive ``page`` with Playwright's sync API."""

    page: Any  # playwright.sync_api.Page
    context: Any  # playwright.sync_api.BrowserContext
    recording: BrowserRecording
    console_lines: list[str]  # the console so far, as written to the file
    browser_session: Any = None  # browser-level CDP session (Target, SystemInfo)

    def crash_renderers(self, sig: int = signal.SIGSEGV) -> list[int]:
        """Kill every renderer process with ``sig`` (default SIGSEGV): the tab shows the sad-tab page,
        "Error code: 11" for SIGSEGV, as in a real renderer crash. Returns the killed pids."""
        info = self.browser_session.send("SystemInfo.getProcessInfo")
        pids = [int(p["id"]) for p in info["processInfo"] if p["type"] == "renderer"]
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        return pids

    def wait_for_console(
        self, needle: str | tuple[str, ...], *, timeout: float = 30.0, start: int = 0
    ) -> str:
        """Drive Playwright until a console line containing ``needle`` (or any of several) appears.

        Looks at lines from index ``start`` on; returns the first match. Raises
        ``TimeoutError`` after ``timeout`` seconds.
        """
        needles = (needle,) if isinstance(needle, str) else needle
        deadline = time.monotonic() + timeout
        while True:
            for line in self.console_lines[start:]:
                if any(n in line for n in needles):
                    return line
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"no console line containing {' or '.join(map(repr, needles))} within {timeout} s"
                )
            self.pump(0.05)

    def pump(self, seconds: float) -> None:
        """Let Playwright deliver events for ``seconds``, even when the page has crashed or closed."""
        from playwright.sync_api import Error

        try:
            self.page.wait_for_timeout(seconds * 1000)
        except Error:  # a crashed page refuses waits; any round trip to the browser still pumps events
            time.sleep(seconds)
            self.context.cookies()


def check_chromium(executable: str = CHROMIUM) -> None:
    """Raise ``UsageError`` with the fix if Chromium or Playwright is missing."""
    if not os.access(executable, os.X_OK):
        raise UsageError(
            f"Chromium not found at {executable}",
            hint="install it: sudo apt-get install -y chromium (or run make setup as root)",
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as e:
        raise UsageError(
            "Playwright is not installed", hint="install the lab extra: pip install -e '.[lab]'"
        ) from e


def _utc(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _cdp_writer(out: IO[str], method: str) -> Callable[[Any], None]:
    def write(params: Any) -> None:
        out.write(json.dumps({"method": method, "params": params}, separators=(",", ":")) + "\n")
        out.flush()

    return write


@contextmanager
def record_browser(
    out_dir: Path,
    *,
    proxy: str | None = None,
    executable: str = CHROMIUM,
    extra_args: tuple[str, ...] = (),
    prefix: str = "",
    ignore_https_errors: bool = False,
    headless: bool = True,
    viewport: tuple[int, int] | None = None,
) -> Iterator[LiveBrowser]:
    """Launch a recording Chromium writing into ``out_dir``; close it cleanly on exit.

    ``proxy`` (``http://127.0.0.1:PORT``) sends all traffic, loopback included,
    through an HTTP proxy such as a regular-mode mitmdump. ``ignore_https_errors``
    accepts any certificate (Caddy's internal CA, mitmproxy's). Files are named
    ``<prefix>netlog.json``, ``<prefix>cdp.jsonl``, ``<prefix>console.log`` and
    ``<prefix>page.har``. ``headless=False`` shows the window; ``viewport`` is (width, height).
    """
    check_chromium(executable)
    from playwright.sync_api import sync_playwright

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)  # run folders: owner only
    rec = BrowserRecording(
        netlog=out_dir / f"{prefix}netlog.json",
        cdp=out_dir / f"{prefix}cdp.jsonl",
        console=out_dir / f"{prefix}console.log",
        har=out_dir / f"{prefix}page.har",
    )
    lab_args = [a for a in CHROMIUM_ARGS if headless or a != "--headless"]
    args = [*lab_args, f"--log-net-log={rec.netlog}", "--net-log-capture-mode=Everything", *extra_args]
    if proxy is not None:
        args += [f"--proxy-server={proxy}", "--proxy-bypass-list=<-loopback>"]
    console_lines: list[str] = []
    with (
        sync_playwright() as pw,
        rec.cdp.open("w", encoding="utf-8") as cdp_out,
        rec.console.open("w", encoding="utf-8") as console_out,
    ):
        browser = pw.chromium.launch(executable_path=executable, headless=headless, args=args)
        try:
            context = browser.new_context(
                record_har_path=str(rec.har),
                record_har_content="omit",
                ignore_https_errors=ignore_https_errors,
            )
            page = context.new_page()
            if viewport is not None:
                page.set_viewport_size({"width": viewport[0], "height": viewport[1]})

            def console_line(kind: str, text: str) -> None:
                line = f"{_utc(time.time())} [{kind}] {' '.join(text.split())}"
                console_lines.append(line)
                console_out.write(line + "\n")
                console_out.flush()

            page.on("console", lambda msg: console_line(msg.type, msg.text))
            page.on("pageerror", lambda err: console_line("pageerror", str(err)))
            page.on("crash", lambda _page: console_line("crash", "page crashed"))
            session = context.new_cdp_session(page)
            for domain, events in CDP_EVENTS.items():
                for event in events:
                    method = f"{domain}.{event}"
                    session.on(method, _cdp_writer(cdp_out, method))
            for domain in _ENABLE:
                session.send(f"{domain}.enable")
            # Browser-level: Target.targetCrashed carries the sad tab's "Error code" (errorCode, the wait status).
            browser_session = browser.new_browser_cdp_session()
            browser_session.on("Target.targetCrashed", _cdp_writer(cdp_out, "Target.targetCrashed"))
            browser_session.send("Target.setDiscoverTargets", {"discover": True})
            live = LiveBrowser(
                page=page,
                context=context,
                recording=rec,
                console_lines=console_lines,
                browser_session=browser_session,
            )
            try:
                yield live
            finally:
                context.close()  # writes the HAR
        finally:
            browser.close()  # Chromium exits and completes the NetLog
