"""tearline.lab.scenario_table: the rows are complete and consistent (pure, no processes)."""

from __future__ import annotations

from tearline.analysis.diagnose.model import ACTORS, CAUSE_KINDS

from tearline.lab.incident.backend import END_BEHAVIOURS
from tearline.lab.scenario_table import SCENARIOS


def test_table_has_a_row_named_for_every_cause_kind() -> None:
    named = {s.name for s in SCENARIOS.values() if s.name == s.expected_kind}
    assert named == {k for k in CAUSE_KINDS if k != "unknown"}
    # more rows for one kind: the crash (client_navigation) and the timers (proxy_timeout, server_going_away)
    assert set(SCENARIOS) - named == {
        "renderer_crash",
        "proxy_read_timeout",
        "server_write_timeout",
        "server_read_timeout",
        "stream_close_delay",
        "proxy_idle_timeout",
    }
    assert all(s.expected_kind in CAUSE_KINDS and s.expected_actor in ACTORS for s in SCENARIOS.values())


def test_rows_use_real_end_behaviours_and_page_parameters() -> None:
    rows = [*SCENARIOS.values(), *(s.without_caddy for s in SCENARIOS.values() if s.without_caddy)]
    for row in rows:
        assert set(row.streams) <= {"sse", "ws"} and row.streams, row.name
        assert set(row.streams.values()) <= set(END_BEHAVIOURS), row.name
        assert set(row.page) <= {
            "deltas",
            "after",
            "interval_ms",
            "stop_after",
            "give_up_ms",
            "upload_gap_ms",
            "upload_pause_ms",
        }, row.name
        assert all(isinstance(v, str) and v.isdigit() for v in row.page.values()), row.name
        assert set(row.ai_site) <= {
            "stream_timeout",
            "stream_close_delay",
            "flush_interval",
            "read_timeout",
            "write_timeout",
            "server_read_timeout",
            "idle_timeout",
        }, row.name
        assert set(row.browser_leg) <= {"tcp_timeout"}, row.name
        assert set(row.both_legs) <= {"stream_large_bodies"}, row.name
        # a row that needs HTTP/2 says why, and every such row streams an upload
        assert (row.tls_only is not None) == ("upload_pause_ms" in row.page), row.name


def test_variants_keep_their_kind() -> None:
    for row in SCENARIOS.values():
        if row.without_caddy is not None:
            assert row.without_caddy.expected_kind == row.expected_kind
            assert row.without_caddy.name == row.name
    assert (
        SCENARIOS["proxy_timeout"].needs_caddy and SCENARIOS["proxy_timeout"].ai_site["stream_timeout"] == 2.0
    )
    assert SCENARIOS["proxy_idle_timeout"].browser_leg == {"tcp_timeout": 2}
    assert (
        SCENARIOS["injected_fault"].fault is not None and "code = 4001" in SCENARIOS["injected_fault"].fault
    )
