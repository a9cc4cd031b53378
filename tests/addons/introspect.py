"""Test addon: ``GET /__tasks`` answers the number of asyncio tasks alive in mitmdump (stress suite)."""

import asyncio

from mitmproxy import http


class Introspect:
    name = "test_introspect"

    def request(self, flow: http.HTTPFlow) -> None:
        if flow.request.path == "/__tasks":
            flow.response = http.Response.make(200, str(len(asyncio.all_tasks())).encode())


addons = [Introspect()]
