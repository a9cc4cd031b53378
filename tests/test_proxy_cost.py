"""The proxy's own delay: the accumulator (pure), what a real recorder writes, and old captures.

The recorder measures, for every relayed WebSocket message and streamed body chunk, the delay from
its arrival at the proxy to its forwarding and the time tearline's hooks took; a capture carries the
figures per client connection (``conn_close.proxy_cost``) and for the whole capture (the footer's).
"""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner
from tearline.analysis.summary.table import cost_text, summarize

from tearline.capture import read_capture
from tearline.cli import cli as cli_main
from tearline.events import CaptureEnd, ConnClose, HttpRequest, SseEvent, WsMessage
from tearline.proxy_cost import COST_KEYS, CostBook, Latency, cost_fields, delay_note
from tests.fixtures_proxy import http_get, ws_session

REPO = Path(__file__).resolve().parent.parent


# --- the accumulator (pure) -------------------------------------------------------------------


def test_quantiles_are_within_five_percent_and_ordered():
    rng = random.Random(7)
    samples = [rng.lognormvariate(-7, 1.5) for _ in range(5000)]  # about 1 ms, long tail
    lat = Latency()
    for s in samples:
        lat.add(s)
    ordered = sorted(samples)
    for q in (0.5, 0.9, 0.99):
        exact = ordered[max(0, int(q * len(ordered)) - 1)]
        got = lat.quantile(q)
        assert exact * 0.999 <= got <= exact * 1.0501 + 1e-6, (q, exact, got)
    assert lat.n == 5000 and lat.max == max(samples)
    assert lat.quantile(0.5) <= lat.quantile(0.99) <= lat.max
    assert lat.total == pytest.approx(sum(samples))


def test_edges_empty_tiny_negative_and_one_sample():
    lat = Latency()
    assert lat.quantile(0.99) == 0.0
    lat.add(-0.002)  # a clock that stepped back: counted as zero
    lat.add(0.0)
    lat.add(5e-7)
    assert lat.n == 3 and lat.max == 0.0005e-3 and lat.quantile(0.5) <= lat.max
    one = Latency()
    one.add(0.25)
    assert one.quantile(0.5) == one.quantile(0.99) == one.max == 0.25


def test_merge_equals_adding_everything_to_one():
    a, b, both = Latency(), Latency(), Latency()
    for i in range(1, 400):
        (a if i % 3 else b).add(i * 1e-5)
        both.add(i * 1e-5)
    a.merge(b)
    assert (a.n, a.max, a.buckets) == (both.n, both.max, both.buckets)
    assert a.quantile(0.99) == both.quantile(0.99)


def test_cost_book_per_connection_and_total():
    book = CostBook()
    assert book.total() is None and book.pop("x") is None
    for i in range(100):
        book.note("c1", 0.001 + i * 1e-5, 2e-5)
    book.note("c1", None, 3e-5)  # dropped by a fault: a hook time, no delay
    book.note("c2", 0.05, 1e-5)
    c1 = book.pop("c1")
    assert c1 is not None and list(c1) == list(COST_KEYS)
    assert (c1["messages"], c1["forwarded"]) == (101, 100)
    assert 0 <= c1["delay_p50_ms"] <= c1["delay_p99_ms"] <= c1["delay_max_ms"] == pytest.approx(1.99)
    assert c1["hook_max_ms"] == pytest.approx(0.03)
    total = book.total()  # c2 still open: counted too
    assert total is not None and (total["messages"], total["forwarded"]) == (102, 101)
    assert total["delay_max_ms"] == pytest.approx(50.0)
    assert cost_fields(Latency(), Latency()) is None


def test_delay_note_names_the_worst_connection_and_long_gaps():
    costs = {
        "a": {"forwarded": 10, "delay_p99_ms": 0.8, "delay_max_ms": 2.5},
        "b": {"forwarded": 5, "delay_p99_ms": 1.2, "delay_max_ms": 1.5},
        "c": {"forwarded": 0, "delay_p99_ms": 0, "delay_max_ms": 0},  # relayed nothing: left out
        "d": "damaged",
    }
    note = delay_note(costs, [("s1", 30.0), ("s2", 0.01)])
    assert note is not None
    assert "15 over 2 connections" in note and "p99 at most 1.2 ms" in note and "2.5 ms" in note
    assert "30 s on s1" in note and "s2" not in note
    assert delay_note({}) is None and delay_note({"x": {"delay_p99_ms": 1}}) is None


def test_summary_text_of_a_cost():
    assert cost_text(None) == "" and cost_text({"forwarded": 0, "delay_p99_ms": 1}) == ""
    assert cost_text({"forwarded": 3, "delay_p99_ms": 0.41, "delay_max_ms": 2.3}) == (
        "proxy +p99 0.41 ms (max 2.3 ms)"
    )


# --- old captures -------------------------------------------------------------------------------


def test_old_capture_without_the_fields_reads_summarises_and_reports(tmp_path):
    seed = REPO / "bench" / "seed_capture.jsonl"  # a real version-1 recording, before proxy_cost
    cap = read_capture(seed)
    assert cap.complete and "proxy_cost" not in cap.header
    assert all(
        getattr(e, "proxy_cost", None) is None for e in cap.events if isinstance(e, ConnClose | CaptureEnd)
    )
    data = summarize(str(seed))
    assert data["proxy_cost"] is None and data["streams"]
    assert all(s["proxy_cost"] is None for s in data["streams"])
    res = CliRunner().invoke(cli_main, ["summary", str(seed)])
    assert res.exit_code == 0, res.output
    assert "proxy +p99" not in res.output
    out = tmp_path / "r.html"
    res = CliRunner().invoke(cli_main, ["report", str(seed), "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert out.stat().st_size > 1000 and "proxy&#39;s own delay" not in out.read_text()


def test_a_damaged_proxy_cost_is_named(tmp_path):
    lines = (REPO / "bench" / "seed_capture.jsonl").read_text().splitlines()
    n = next(i for i, line in enumerate(lines) if '"conn_close"' in line)
    obj = json.loads(lines[n])
    obj["proxy_cost"] = {"messages": "many"}
    lines[n] = json.dumps(obj)
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n")
    res = CliRunner().invoke(cli_main, ["summary", str(bad)])
    assert res.exit_code != 0
    assert f"bad.jsonl:{n + 1}:" in res.output and "proxy_cost" in res.output
    assert "Traceback" not in res.output


# --- a real recorder -------------------------------------------------------------------------


@pytest.mark.timeout(240)
def test_real_recorder_writes_its_measured_delay(recorder, tmp_path):
    proxy = recorder()
    res = asyncio.run(
        ws_session(
            f"{proxy.ws_base}/ws?n=5&interval_ms=10&size=64",
            send=[f"m{i}" for i in range(20)],
            close=(1000, "done"),
            expect=25,
        )
    )
    assert res["code"] == 1000
    body = http_get(proxy.port, "/sse?n=6&interval_ms=10&event=tick")
    assert b"event: tick" in body
    proxy.stop()
    cap = read_capture(proxy.capture)
    assert cap.complete and cap.header["proxy_cost"]["in"] == ["conn_close", "capture_end"]
    reqs = {e.stream: e for e in cap.events if isinstance(e, HttpRequest)}
    ws_sid = next(s for s, r in reqs.items() if "/ws?" in r.url)
    sse_sid = next(s for s, r in reqs.items() if "/sse?" in r.url)
    closes = {e.conn: e for e in cap.events if isinstance(e, ConnClose) and e.leg == "client"}

    def check(cost, messages):
        assert cost is not None and list(cost) == list(COST_KEYS)
        assert cost["messages"] == cost["forwarded"] == messages
        for what in ("delay", "hook"):
            p50, p99, mx = (cost[f"{what}_{k}_ms"] for k in ("p50", "p99", "max"))
            assert 0 <= p50 <= p99 <= mx, cost
        assert cost["hook_max_ms"] <= cost["delay_max_ms"] * 1.06 + 0.01  # the hook is part of the delay
        assert cost["delay_max_ms"] < 60_000  # seconds at most, not a clock mix-up

    ws_msgs = [e for e in cap.events if isinstance(e, WsMessage) and e.stream == ws_sid]
    assert len(ws_msgs) == 45
    check(closes[reqs[ws_sid].conn].proxy_cost, len(ws_msgs))
    sse_chunks = [e for e in cap.events if e.type == "body_chunk" and e.stream == sse_sid]
    assert len([e for e in cap.events if isinstance(e, SseEvent) and e.stream == sse_sid]) == 6
    check(closes[reqs[sse_sid].conn].proxy_cost, len(sse_chunks))
    footer = cap.events[-1]
    assert isinstance(footer, CaptureEnd)
    check(footer.proxy_cost, len(ws_msgs) + len(sse_chunks))
    # shown to the user: summary (per stream and for the capture) and the diagnosis's note
    data = summarize(str(proxy.capture))
    assert {s["proxy_cost"]["messages"] for s in data["streams"]} == {len(ws_msgs), len(sse_chunks)}
    out = CliRunner().invoke(cli_main, ["summary", str(proxy.capture)]).output
    assert out.count("proxy +p99") == 2 and len(out.strip().splitlines()) == 2  # one line per stream
    diag = CliRunner().invoke(cli_main, ["diagnose", str(proxy.capture), "--json"])
    assert diag.exit_code == 0, diag.output
    notes = json.loads(diag.output)["notes"]
    assert any("proxy's own delay" in n and "over 2 connections" in n for n in notes), notes
    html = tmp_path / "r.html"
    rep = CliRunner().invoke(cli_main, ["report", str(proxy.capture), "-o", str(html)])
    assert rep.exit_code == 0, rep.output
    assert "The proxy&#39;s own delay per relayed message or chunk" in html.read_text()
