"""What each ``[[step]]`` of a run file does to the live browser (Playwright's sync API).

``do_step(step, live)`` runs one step within its timeout and raises
``StepFailed`` naming the step when it cannot. ``wait = {messages = N, url = P}``
counts, in the DevTools events being written to ``cdp.jsonl``, the messages
(WebSocket frames received, EventSource messages, streamed response chunks)
of the requests whose URL contains ``P``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

from tearline.lab.browser import LiveBrowser
from tearline.runs.model import Step

__all__ = ["Live", "StepFailed", "do_step"]

_MESSAGE_EVENTS = (
    "Network.webSocketFrameReceived",
    "Network.eventSourceMessageReceived",
    "Network.dataReceived",
)


class StepFailed(Exception):
    """A step could not be done; the message names it."""


@dataclass(kw_only=True)
class Live:
    browser: LiveBrowser
    base_url: str  # the target as the browser opens it
    caddy: Any  # Caddy or CaddyJson (reload), None when the run has no Caddy
    step_times: list[dict[str, Any]] = field(default_factory=list)  # {"step", "action", "t"} epoch seconds
    closed: bool = False


def count_messages(cdp: Path, pattern: str) -> int:
    """Messages so far on requests whose URL contains ``pattern``, from a cdp.jsonl being written."""
    urls: dict[str, str] = {}
    n = 0
    try:
        text = cdp.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return 0
    for line in text.splitlines():
        try:
            ev = json.loads(line)
        except ValueError:
            continue  # a line being written
        method, params = ev.get("method"), ev.get("params") or {}
        if method == "Network.requestWillBeSent":
            urls[params.get("requestId", "")] = params.get("request", {}).get("url", "")
        elif method == "Network.webSocketCreated":
            urls[params.get("requestId", "")] = params.get("url", "")
        elif method in _MESSAGE_EVENTS and pattern in urls.get(params.get("requestId", ""), "\0"):
            n += 1
    return n


def _wait_until(live: Live, check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} within {timeout:g} s")
        live.browser.pump(0.05)


def _goto(page: Any, url: str, ms: int) -> None:
    """Go to ``url``; a network error is what the run is about (the error page shows), not a failed step."""
    from playwright.sync_api import Error

    try:
        page.goto(url, timeout=ms)
    except Error as e:
        if "net::ERR_" not in str(e):
            raise


def _run(step: Step, live: Live) -> None:
    page = live.browser.page
    ms = step.timeout_ms
    s = ms / 1000
    a = step.action
    if a in ("open", "navigate"):
        _goto(page, urljoin(live.base_url, step.value) if step.value else live.base_url, ms)
    elif a == "wait_ms":
        live.browser.pump(step.value / 1000)
    elif a == "wait_console":
        live.browser.wait_for_console(step.value, timeout=s)
    elif a == "wait_selector":
        page.wait_for_selector(step.value, timeout=ms)
    elif a == "wait_messages":
        cdp = live.browser.recording.cdp
        _wait_until(
            live,
            lambda: count_messages(cdp, step.url or "") >= step.value,
            s,
            f"no {step.value} messages on a stream matching {step.url!r}",
        )
    elif a == "click":
        page.click(step.value, timeout=ms)
    elif a == "type":
        page.fill(step.into, step.value, timeout=ms)
    elif a == "reload":
        page.reload(timeout=ms)
    elif a == "back":
        page.go_back(timeout=ms)
    elif a in ("offline", "online"):
        live.browser.context.set_offline(a == "offline")
    elif a == "close_tab":
        page.close(run_before_unload=True)
        live.closed = True
    elif a == "crash_renderer":
        live.browser.crash_renderers()
        live.browser.wait_for_console("[crash]", timeout=s)
    elif a == "eval":
        page.evaluate(step.value)
    elif a == "reload_proxy":
        if live.caddy is None:
            raise StepFailed(f"{step.describe()}: this run has no Caddy to reload")
        live.caddy.reload(timeout=s)
    else:  # pragma: no cover - the model only makes the actions above
        raise StepFailed(f"{step.describe()}: unknown action")


def do_step(step: Step, live: Live) -> None:
    """Do ``step``; ``StepFailed`` (one line, naming the step) when it fails or times out."""
    live.step_times.append({"step": step.number, "action": step.action, "t": time.time()})
    if live.closed and step.action not in ("wait_ms", "reload_proxy"):
        raise StepFailed(f"{step.describe()}: the tab was closed by an earlier step")
    try:
        _run(step, live)
    except StepFailed:
        raise
    except Exception as e:  # Playwright's TimeoutError/Error, our TimeoutError, a refused reload
        first = " ".join(str(e).split("\n", 1)[0].split())[:240]
        raise StepFailed(f"{step.describe()} failed: {type(e).__name__}: {first}") from e
