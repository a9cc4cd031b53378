"""The stress suite at CI size (``make stress`` runs it at full size: docs/reliability.md).

Real mitmdump with the recorder in front of the lab server: concurrent WebSockets and SSE streams
recorded without loss or reordering; abrupt connections leave no file descriptors or tasks behind;
``kill -9`` under load leaves a readable capture whose messages are a prefix of what the clients got.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tearline.lab.mitmdump import Mitmdump
from tests.fixtures_proxy import REPO, WS_TRACE
from tests.stress.workloads import churn, concurrency, kill9

INTROSPECT = REPO / "tests" / "addons" / "introspect.py"
LAB_EXTRA_PARAMS = ("c",)  # c= labels each client's stream (tests/stress/workloads.py)


@pytest.fixture
def stress_proxy(start_mitmdump, lab_server, tmp_path):
    def start(**options: object) -> Mitmdump:
        cap = tmp_path / "stress.jsonl"
        proxy = start_mitmdump(
            scripts=[WS_TRACE, INTROSPECT],
            mode=f"reverse:{lab_server.base}",
            options={"trace_file": str(cap), "trace_payload": "preview:8", **options},
        )
        proxy.capture = cap  # type: ignore[attr-defined]
        return proxy

    return start


def test_concurrent_streams_recorded_whole_and_in_order(stress_proxy):
    out = concurrency(stress_proxy(), n_ws=20, ws_msgs=50, n_sse=5, sse_events=30)
    assert out["client_error_count"] == 0, out
    assert out["ws_clients_ok"] == 20
    assert (out["ws_streams_recorded"], out["ws_messages_recorded"]) == (20, 1000)
    assert (out["ws_lost"], out["ws_reordered"], out["ws_wrong_content"]) == (0, 0, 0)
    assert (out["sse_streams_recorded"], out["sse_events_recorded"]) == (5, 150)
    assert (out["sse_lost"], out["sse_reordered"]) == (0, 0)
    assert out["capture_complete"] and out["capture_dropped"] == 0


def test_abrupt_connections_leave_nothing_behind(stress_proxy):
    out = churn(stress_proxy(), cycles=300, settle_s=30)
    assert out["alive"] and out["connect_failures"] == 0, out
    assert out["after"]["fds"] <= out["before"]["fds"], out
    # a few tasks may be in flight when sampled (the request answering /__tasks is one)
    assert out["after"]["tasks"] <= out["before"]["tasks"] + 2, out
    assert out["after"]["threads"] <= out["before"]["threads"], out


def test_kill9_keeps_a_readable_prefix(stress_proxy):
    proxy = stress_proxy(trace_flush_ms=20)
    out = kill9(proxy, streams=4, run_s=2.0)
    assert out["received_by_clients"] > 0 and out["recorded"] > 0, out
    assert out["not_a_prefix"] == 0, out
    assert out["recorded"] >= out["received_by_clients"] - out["lost"]
    assert Path(proxy.capture).exists()  # type: ignore[attr-defined]
