"""Drive CopilotKit's chat in a recording Chromium like a user: type a question, wait, click away.

Every wait pumps Playwright (so DevTools events and the console keep being recorded) and polls a
condition; none relies on a fixed sleep being long enough.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from tearline.lab.browser import LiveBrowser
from tearline.lab.copilotkit.agent_log import read_agent_log

__all__ = ["ask", "click_link", "tokens_logged", "wait_until"]

CHAT_INPUT = "textarea"


def wait_until(browser: LiveBrowser, cond: Callable[[], bool], *, timeout: float, what: str) -> None:
    """Pump the browser until ``cond()`` holds; ``TimeoutError`` naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:.0f} s")
        browser.pump(0.1)


def ask(browser: LiveBrowser, text: str, *, timeout: float = 60.0) -> None:
    """Type ``text`` into the chat box once the page has hydrated, and send it (Enter)."""
    box = browser.page.locator(CHAT_INPUT).first
    box.wait_for(state="visible", timeout=timeout * 1000)
    box.fill(text)
    box.press("Enter")


def tokens_logged(agent_log: Path) -> int:
    """Tokens the agent's model has produced so far (all runs)."""
    if not agent_log.exists():
        return 0
    return sum(1 for r in read_agent_log(agent_log) if r["event"] == "token")


def click_link(browser: LiveBrowser, selector: str = "#docs-link") -> None:
    """Click the header link to the other domain (a real navigation away from the chat)."""
    browser.page.click(selector, no_wait_after=True)
