"""Shared pytest set-up. Fixtures live in one plugin module per area so that
the people building each area do not edit the same file:

- tests/fixtures_proxy.py    real mitmdump, WebSocket and SSE servers (recording, relay, faults)
- tests/fixtures_browser.py  real headless Chromium and Caddy (the lab)
"""

import importlib.util

pytest_plugins = [
    name
    for name in ("tests.fixtures_proxy", "tests.fixtures_browser")
    if importlib.util.find_spec(name) is not None
]
