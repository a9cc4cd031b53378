"""Drive CopilotKit's chat in a recording Chromium like a user: type a question, wait, click away.

Every wait pumps Playwright (so DevTools events and the console keep being recorded) and polls a
condition; none relies on a fixed sleep being long enough.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tearline.lab.browser import LiveBrowser
from tearline.lab.copilotkit.agent_log import read_agent_log

__all__ = ["Chat", "click_link", "tokens_logged", "wait_until"]

CHAT_INPUT = "textarea"
SEND_BUTTON = "button.copilotKitInputControlButton[data-test-id=copilot-chat-ready]"
RUNTIME_PATH = "/api/copilotkit"
STOP_BUTTON = "button.copilotKitInputControlButton[data-test-id=copilot-chat-request-in-progress]"


def wait_until(browser: LiveBrowser, cond: Callable[[], bool], *, timeout: float, what: str) -> None:
    """Pump the browser until ``cond()`` holds; ``TimeoutError`` naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:.0f} s")
        browser.pump(0.1)


class Chat:
    """The chat page in ``browser``, with the CopilotKit calls it has made (``info``, ``agent/connect``, ...).

    Create it before opening the page: it listens to the page's requests to know when CopilotKit has
    connected its agent (a message sent before that is dropped without a request).
    """

    def __init__(self, browser: LiveBrowser) -> None:
        self.browser = browser
        self.sent: list[str] = []  # methods of the POSTs to the runtime, as sent
        self.finished: list[str] = []  # ... and as their responses ended
        browser.page.on("request", lambda r: self._note(r, self.sent))
        browser.page.on("requestfinished", lambda r: self._note(r, self.finished))

    @staticmethod
    def _note(request: Any, into: list[str]) -> None:
        if request.method != "POST" or RUNTIME_PATH not in request.url:
            return
        try:
            body = json.loads(request.post_data or "{}")
        except ValueError:
            return
        if isinstance(body, dict) and isinstance(body.get("method"), str):
            into.append(body["method"])

    def open(self, url: str, *, timeout: float = 60.0) -> None:
        """Load the chat and wait until CopilotKit has connected its agent.

        On a loaded machine the page's first load sometimes never sends ``agent/connect`` (seen on
        CI: the runtime's ``info`` answered, hydration still running); the page is then reloaded
        once, as a user would, before giving up. The wait for a quiet network afterwards is best
        effort: an HTTP/1.1 page can keep a request open for longer than any fixed wait.
        """
        page = self.browser.page
        page.goto(url)
        try:
            wait_until(
                self.browser,
                lambda: "agent/connect" in self.finished,
                timeout=timeout / 2,
                what="agent/connect",
            )
        except TimeoutError:
            page.reload()
            wait_until(
                self.browser,
                lambda: "agent/connect" in self.finished,
                timeout=timeout / 2,
                what="CopilotKit's agent/connect (the page was loaded twice)",
            )
        with contextlib.suppress(PlaywrightTimeout):  # the send button's own wait in ask() is what matters
            page.wait_for_load_state("networkidle", timeout=10_000)

    def ask(self, text: str, *, timeout: float = 60.0) -> None:
        """Type ``text`` into the chat box and press send, as a user does; wait for the ``agent/run`` POST."""
        page = self.browser.page
        box = page.locator(CHAT_INPUT).first
        box.click()
        box.type(text, delay=20)
        send = page.locator(SEND_BUTTON)
        send.wait_for(state="visible", timeout=timeout * 1000)
        wait_until(self.browser, send.is_enabled, timeout=timeout, what="the send button enabled")
        runs_before = self.sent.count("agent/run")
        send.click()
        wait_until(
            self.browser,
            lambda: self.sent.count("agent/run") > runs_before,
            timeout=timeout,
            what="the agent/run POST",
        )


def tokens_logged(agent_log: Path) -> int:
    """Tokens the agent's model has produced so far (all runs)."""
    if not agent_log.exists():
        return 0
    return sum(1 for r in read_agent_log(agent_log) if r["event"] == "token")


def click_link(browser: LiveBrowser, selector: str = "#docs-link") -> None:
    """Click the header link to the other domain (a real navigation away from the chat)."""
    browser.page.click(selector, no_wait_after=True)
