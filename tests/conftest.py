"""Shared pytest set-up. Fixtures live in one plugin module per area so that
the people building each area do not edit the same file:

- tests/fixtures_proxy.py    real mitmdump, WebSocket and SSE servers (recording, relay, faults)
- tests/fixtures_browser.py  real headless Chromium and Caddy (the lab)

``wait_for(check, what)`` polls a condition instead of sleeping a fixed time (import it from here).
"""

import importlib.util
import time
from collections.abc import Callable

pytest_plugins = [
    name
    for name in ("tests.fixtures_proxy", "tests.fixtures_browser")
    if importlib.util.find_spec(name) is not None
]


def wait_for[T](check: Callable[[], T], what: str, *, timeout: float = 30.0, interval: float = 0.05) -> T:
    """Poll ``check()`` until it returns something truthy, and return that.

    The replacement for a fixed ``time.sleep`` before an assertion: it returns as soon as the
    condition holds (fast on an idle machine) and waits up to ``timeout`` seconds on a loaded one.
    Fails the test with ``what`` and the last value seen when the time runs out.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:g} s for {what}; last saw {value!r}")
        time.sleep(interval)
