"""The run file's model: frozen dataclasses, no I/O and no parsing (``tearline.runs.run_file`` reads one).

The format is documented in docs/runs.md and, in short, in ``tearline.runs.run_file``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tearline.faults.armed import FaultSpec

__all__ = [
    "DEFAULT_STEP_TIMEOUT_MS",
    "LEGS",
    "STEP_ACTIONS",
    "BrowserSpec",
    "Expect",
    "LegFault",
    "RunFile",
    "Step",
    "StreamExpect",
    "Target",
]

LEGS = ("browser", "backend")
DEFAULT_STEP_TIMEOUT_MS = 30_000

# action -> (what its value must be, one line for errors and docs)
STEP_ACTIONS: dict[str, tuple[str, str]] = {
    "open": ("str", 'open a URL (relative to the target; "" = the target itself)'),
    "wait": (
        "wait",
        "wait N ms, or {console=TEXT or [TEXT, ...]} / {selector=CSS} / {messages=N, url=PATTERN}",
    ),
    "click": ("str", 'click a Playwright selector ("#away", "text=Docs" for link text)'),
    "type": ("str", "type text into the element given by into = SELECTOR"),
    "navigate": ("str", "go to a URL in the same tab (relative to the target)"),
    "reload": ("true", "reload the page"),
    "back": ("true", "go back in history"),
    "offline": ("true", "take the browser offline (DevTools network emulation)"),
    "online": ("true", "bring it back online"),
    "close_tab": ("true", "close the tab"),
    "crash_renderer": ("true", 'kill the renderer with SIGSEGV: the sad tab, "Error code: 11"'),
    "eval": ("str", "run JavaScript in the page"),
    "reload_proxy": ("true", "reload Caddy's config through its admin API (closes WebSockets: 1001)"),
}


@dataclass(frozen=True, kw_only=True, slots=True)
class Target:
    """What the run opens: a bundled ``app`` or the user's own ``url``."""

    app: str | None = None
    url: str | None = None  # the user's app as a browser opens it
    upstream: str | None = None  # what the browser-side tap forwards to (scheme://host:port)
    path: str = "/"  # with app: the page to open on it
    caddyfile: str | None = None  # start Caddy from this Caddyfile, both legs tapped
    backend_log: str | None = None  # a file the back end writes; its new lines are collected
    tls: bool = False  # with app: HTTPS (HTTP/2) between the browser and Caddy
    options: Mapping[str, Any] = field(default_factory=dict)  # with app: the app's options


@dataclass(frozen=True, kw_only=True, slots=True)
class BrowserSpec:
    headless: bool = True
    args: tuple[str, ...] = ()
    ignore_https_errors: bool = True
    viewport: tuple[int, int] | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Step:
    """One ``[[step]]``: ``action`` (a STEP_ACTIONS name, ``wait`` split into wait_ms/console/selector/messages)."""

    number: int
    action: str
    value: Any
    timeout_ms: int = DEFAULT_STEP_TIMEOUT_MS
    into: str | None = None  # type: the element
    url: str | None = None  # wait_messages: the stream's URL pattern (a substring)

    def describe(self) -> str:
        return f"step {self.number} ({self.action} {self.value!r})"


@dataclass(frozen=True, kw_only=True, slots=True)
class LegFault:
    leg: str  # "browser" (between the browser and the app) or "backend" (between Caddy and its upstream)
    spec: FaultSpec
    table: Mapping[str, Any]  # the [[fault]] table without leg, for the fault addon's file


@dataclass(frozen=True, kw_only=True, slots=True)
class StreamExpect:
    url: str  # substring of the stream's URL
    causes: tuple[str, ...]  # acceptable cause kinds
    which: str = "every"  # "every": each matching stream must end so; "some": at least one must


@dataclass(frozen=True, kw_only=True, slots=True)
class Expect:
    error_page: bool | None = None  # None: not checked
    streams: tuple[StreamExpect, ...] = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class RunFile:
    source: str
    name: str
    description: str
    vars: Mapping[str, Any]  # after overrides
    target: Target
    browser: BrowserSpec
    steps: tuple[Step, ...]
    faults: tuple[LegFault, ...]
    expect: Expect

    def faults_on(self, leg: str) -> tuple[LegFault, ...]:
        return tuple(f for f in self.faults if f.leg == leg)
