"""Record one chat on the real CopilotKit stack: open the page, ask, wait for tokens, then leave or let it finish.

::

    rec = record_chat(Path("out/ck"), tls=True, leave_after_tokens=20)
    rec.streams("browser")      # each SSE stream a tap saw: data types, how its body ended
    rec.agent_runs()            # the agent's own account (agent_log.AgentRun)

Everything the stack and the browser write lands in ``out_dir`` (see ``stack.py`` and
``tearline.lab.browser``): NetLog, DevTools events, console, HAR, Caddy's log, the taps' captures, the
agent's and the runtime's logs, and ``page.png``: the page as the user sees it at the end.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tearline.capture import read_capture
from tearline.events import BodyEnd, HttpResponse, SseEvent
from tearline.lab.browser import BrowserRecording, record_browser
from tearline.lab.copilotkit.agent_log import AgentRun, read_agent_log, runs
from tearline.lab.copilotkit.drive import (
    SEND_BUTTON,
    STOP_BUTTON,
    Chat,
    click_link,
    tokens_logged,
    wait_until,
)
from tearline.lab.copilotkit.stack import run_stack

__all__ = ["ChatRecording", "SseStream", "record_chat"]


@dataclass(frozen=True, kw_only=True, slots=True)
class SseStream:
    """One ``text/event-stream`` response as a tap recorded it."""

    stream: str
    http_version: str
    data_types: tuple[str | None, ...]  # each event's data type, in order
    complete: bool | None  # its body_end (None: none recorded)
    how: str | None
    error: str | None
    ended_at: float | None  # epoch seconds

    def count(self, data_type: str) -> int:
        return self.data_types.count(data_type)


@dataclass(frozen=True, kw_only=True)
class ChatRecording:
    out_dir: Path
    tls: bool
    page_url: str
    browser: BrowserRecording
    caddy_log: Path
    agent_log: Path
    next_log: Path
    captures: Mapping[str, Path]
    calls: tuple[str, ...]  # CopilotKit's POSTs to its runtime, by method, as the page sent them
    asked_at: float  # epoch seconds: the question was sent
    left_at: float | None  # epoch seconds: the link was clicked (None: the user stayed)
    final_url: str = ""  # the page's URL at the end (``chrome-error://...``: Chromium shows an error page)

    @property
    def error_page(self) -> bool:
        return self.final_url.startswith("chrome-error://")

    def streams(self, leg: str) -> list[SseStream]:
        """The SSE streams recorded on ``leg``'s tap, in the order their responses arrived."""
        events = read_capture(self.captures[leg]).events
        out: list[SseStream] = []
        for resp in (e for e in events if isinstance(e, HttpResponse) and e.kind == "sse"):
            sid = resp.stream
            sse = [e for e in events if isinstance(e, SseEvent) and e.stream == sid]
            end = next(
                (e for e in events if isinstance(e, BodyEnd) and e.stream == sid and e.direction == "server"),
                None,
            )
            out.append(
                SseStream(
                    stream=str(sid),
                    http_version=resp.http_version,
                    data_types=tuple(e.data_type for e in sse),
                    complete=end.complete if end else None,
                    how=end.how if end else None,
                    error=end.error if end else None,
                    ended_at=end.ts if end else None,
                )
            )
        return out

    def run_stream(self, leg: str) -> SseStream:
        """The ``agent/run`` stream on ``leg``: the one whose events start with ``RUN_STARTED``."""
        found = [s for s in self.streams(leg) if "RUN_STARTED" in s.data_types]
        if len(found) != 1:
            raise AssertionError(f"{len(found)} run streams on the {leg} leg, expected one")
        return found[0]

    def agent_runs(self) -> list[AgentRun]:
        return runs(read_agent_log(self.agent_log))


def record_chat(
    out_dir: Path,
    *,
    tls: bool = True,
    taps: tuple[str, ...] = ("browser", "agent"),
    faults: Mapping[str, str] | None = None,
    question: str = "Tell me a long story",
    tokens: int = 120,
    interval: float = 0.05,
    leave_after_tokens: int | None = 20,
    stop_after_tokens: int | None = None,
    reload_after_tokens: int | None = None,
    agent_answers: bool = True,
    agent_read_timeout: float | None = None,
    settle: float = 60.0,
) -> ChatRecording:
    """Record one chat into ``out_dir``.

    ``leave_after_tokens``: click the header link to the other domain once the agent has produced that
    many tokens, then wait (at most ``settle`` s) until the agent's model call has ended; ``None``: stay
    until the agent's response has ended. ``stop_after_tokens``: press the chat's stop button once the agent
    has produced that many tokens (instead of leaving). ``reload_after_tokens``: reload Caddy's config (its
    admin API, as a deploy does) once the agent has produced that many tokens. ``agent_answers=False``: a
    fault keeps the request from the agent (``respond``), so do not wait for its run. Unless the user left,
    the recording ends once the chat's send button is back (its run over, however it ended).
    ``agent_read_timeout``: Caddy's read timeout on the runtime-to-agent hop (``stack.run_stack``).
    ``faults``: leg -> fault TOML for that tap.
    """
    with (
        run_stack(
            out_dir,
            tls=tls,
            taps=taps,
            faults=faults,
            tokens=tokens,
            interval=interval,
            agent_read_timeout=agent_read_timeout,
        ) as stack,
        record_browser(stack.out_dir, extra_args=stack.chromium_args) as browser,
    ):
        chat = Chat(browser)
        chat.open(stack.page_url)
        chat.ask(question)
        asked_at = time.time()
        left_at = None

        def ended(event: str) -> bool:
            return any(r["event"] == event for r in read_agent_log(stack.agent_log) if r["t"] >= asked_at)

        if leave_after_tokens is not None:
            wait_until(
                browser,
                lambda: tokens_logged(stack.agent_log) >= leave_after_tokens,
                timeout=settle,
                what=f"{leave_after_tokens} tokens from the agent",
            )
            left_at = time.time()
            click_link(browser)
            wait_until(
                browser, lambda: "/docs" in browser.page.url, timeout=settle, what="the other domain's page"
            )
            wait_until(
                browser, lambda: ended("model_end"), timeout=settle, what="the agent's model call to end"
            )
        elif stop_after_tokens is not None:
            wait_until(
                browser,
                lambda: tokens_logged(stack.agent_log) >= stop_after_tokens,
                timeout=settle,
                what=f"{stop_after_tokens} tokens from the agent",
            )
            browser.page.click(STOP_BUTTON)
        elif reload_after_tokens is not None:
            wait_until(
                browser,
                lambda: tokens_logged(stack.agent_log) >= reload_after_tokens,
                timeout=settle,
                what=f"{reload_after_tokens} tokens from the agent",
            )
            stack.caddy.reload()
        if agent_answers:
            wait_until(
                browser, lambda: ended("response_end"), timeout=settle, what="the agent's response to end"
            )
        if left_at is None:  # the chat is still on screen: its run is over when the send button is back
            wait_until(
                browser,
                lambda: browser.page.query_selector(SEND_BUTTON) is not None,
                timeout=settle,
                what="the chat to finish its run",
            )
        if ended("model_start"):  # a model call cut off from its client may still be generating
            wait_until(
                browser, lambda: ended("model_end"), timeout=settle, what="the agent's model call to end"
            )
        browser.pump(1.0)  # the runtime's and the taps' last events
        browser.page.screenshot(path=str(stack.out_dir / "page.png"))  # what the user sees at the end
        final_url = browser.page.url
        recording = browser.recording
        rec = ChatRecording(
            out_dir=stack.out_dir,
            tls=tls,
            page_url=stack.page_url,
            browser=recording,
            caddy_log=stack.caddy_log,
            agent_log=stack.agent_log,
            next_log=stack.next_log,
            captures=dict(stack.captures),
            calls=tuple(chat.sent),
            asked_at=asked_at,
            left_at=left_at,
            final_url=final_url,
        )
    return rec
