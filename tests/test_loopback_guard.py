"""addons/loopback_guard.py: refuses clients from other machines unless --listen-host is given.

The refusal is exercised with mitmproxy's test context and a client whose peer is a
documentation address (no packet is sent anywhere: tests never listen beyond
127.0.0.1); the real mitmdump run checks that loopback clients are served.
"""

import asyncio

from mitmproxy.test import taddons, tflow
from tearline.addons.loopback_guard import LoopbackGuard

from tearline.loopback import REFUSAL
from tests.fixtures_proxy import ws_session


def _client(host):
    client = tflow.tclient_conn()
    client.peername = (host, 40000)
    client.error = None
    return client


def test_other_machines_are_refused_by_default():
    guard = LoopbackGuard()
    with taddons.context(guard):
        remote, local = _client("192.0.2.7"), _client("127.0.0.1")
        guard.client_connected(remote)
        guard.client_connected(local)
    assert remote.error == REFUSAL
    assert local.error is None


def test_a_chosen_listen_host_serves_everyone():
    guard = LoopbackGuard()
    with taddons.context(guard) as tctx:
        tctx.options.update(listen_host="0.0.0.0")
        remote = _client("192.0.2.7")
        guard.client_connected(remote)
    assert remote.error is None


def test_real_mitmdump_with_the_guard_serves_loopback_clients(recorder):
    # Tests listen on 127.0.0.1 only (the lab passes --listen-host 127.0.0.1), so the
    # guard must stay out of the way: the client is served and nothing is refused.
    proxy = recorder()
    result = asyncio.run(ws_session(f"{proxy.ws_base}/ws?n=2", [], (1000, ""), 2))
    proxy.stop()
    assert len(result["received"]) == 2 and result["code"] == 1000
    assert "refused" not in proxy.log_text()
