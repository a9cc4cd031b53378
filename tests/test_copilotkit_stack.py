"""The real CopilotKit + LangGraph stack through real Caddy, tearline's taps and a real Chromium.

What these assert is what the stack was observed to do (docs/case-study-copilotkit.md): the chat streams
AG-UI events over one POST; when the user leaves, the browser's stream is cancelled while the runtime
keeps reading the agent's whole answer; a failure behind the runtime reaches the browser as an in-band
RUN_ERROR in a response that ends normally. Each recording is also diagnosed (``tearline diagnose`` over
both captures, NetLog, DevTools events, HAR, console, Caddy's log and config): the cause tearline names for
the browser's run stream is asserted beside what the stack did.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tearline.lab.copilotkit.matrix import run_stream_diagnosis
from tearline.lab.copilotkit.record import record_chat
from tests.real_app import REAL_APP_MARKS, require_real_app

pytestmark = REAL_APP_MARKS

require_real_app()


@pytest.fixture(scope="module")
def app_built() -> Path:
    """npm ci + next build, once (cached across runs: tearline.lab.copilotkit.build)."""
    from tearline.lab.copilotkit.build import ensure_app

    return ensure_app()


@pytest.mark.parametrize("tls", [True, False], ids=["http2", "http1"])
def test_nav_away_mid_answer(app_built, tmp_path, tls) -> None:
    rec = record_chat(tmp_path / "ck", tls=tls, tokens=120, interval=0.05, leave_after_tokens=20)
    # the page's CopilotKit calls, all on one POST route
    assert rec.calls[0] == "info" and "agent/connect" in rec.calls and rec.calls[-1] == "agent/run"
    browser = rec.run_stream("browser")
    assert browser.http_version == ("HTTP/2.0" if tls else "HTTP/1.1")
    assert browser.data_types[0] == "RUN_STARTED"
    assert browser.count("TEXT_MESSAGE_CONTENT") >= 1
    assert "RUN_FINISHED" not in browser.data_types and "RUN_ERROR" not in browser.data_types
    assert browser.complete is False and browser.how == "cut"  # the browser cancelled its stream
    assert browser.ended_at is not None and rec.left_at is not None and browser.ended_at >= rec.left_at
    # the hop behind the runtime streamed the whole answer to its end regardless
    agent = rec.run_stream("agent")
    assert agent.complete is True and agent.data_types[-1] == "RUN_FINISHED"
    assert agent.count("TEXT_MESSAGE_CONTENT") == 120
    (run,) = rec.agent_runs()
    assert (run.response_end, run.model_end, run.tokens) == ("complete", "finished", 120)
    assert (
        run.last_token_at is not None and run.last_token_at > browser.ended_at
    )  # generated after the user left
    d = run_stream_diagnosis(rec.out_dir)
    assert (d["diagnosis_run_stream"], d["diagnosis_actor"]) == ("client_navigation", "browser"), d
    assert d["run_stream_net_error"] == "ERR_ABORTED"
    # every other runtime stream (info, agent/connect) had finished before the click: clean closes
    assert sorted(d["diagnosis_runtime_streams"]).count("client_navigation") == 1, d
    assert set(d["diagnosis_runtime_streams"]) <= {"client_navigation", "clean_close"}, d


def test_clean_finish(app_built, tmp_path) -> None:
    rec = record_chat(tmp_path / "ck", tls=True, tokens=15, interval=0.02, leave_after_tokens=None)
    browser = rec.run_stream("browser")
    assert browser.complete is True and browser.how == "terminated"
    assert browser.data_types[0] == "RUN_STARTED" and browser.data_types[-1] == "RUN_FINISHED"
    assert browser.count("TEXT_MESSAGE_CONTENT") == 15
    (run,) = rec.agent_runs()
    assert (run.response_end, run.model_end, run.tokens) == ("complete", "finished", 15)
    d = run_stream_diagnosis(rec.out_dir)
    assert d["diagnosis_run_stream"] == "clean_close", d


ABORT_AFTER_20 = """
[[fault]]
action = "abort"
stream = "sse"
direction = "server"
after_messages = 20
to = "both"
"""


def test_abort_on_the_agent_leg_reaches_the_browser_in_band(app_built, tmp_path) -> None:
    rec = record_chat(
        tmp_path / "ck",
        tls=True,
        tokens=120,
        interval=0.05,
        leave_after_tokens=None,
        faults={"agent": ABORT_AFTER_20},
    )
    agent = rec.run_stream("agent")
    assert agent.complete is False  # the hop behind the runtime was cut
    browser = rec.run_stream("browser")
    # ... and the browser's response ends normally, the failure only inside it
    assert browser.data_types[-1] == "RUN_ERROR"
    assert browser.complete is True and browser.how == "terminated"
    (run,) = rec.agent_runs()
    assert run.response_end == "client_gone"
    # diagnosed by the deepest hop: tearline's fault there, which the hop saw as an abrupt close; the
    # in-band RUN_ERROR and what the page said about it are the evidence
    d = run_stream_diagnosis(rec.out_dir)
    assert (d["diagnosis_run_stream"], d["diagnosis_actor"]) == ("injected_fault", "tearline"), d
    assert d["diagnosis_details"]["in_band"] == "RUN_ERROR"
    assert d["diagnosis_details"]["hop_kind"] == "server_abrupt_close", d
    assert "terminated" in d["diagnosis_details"]["message"], d  # the console's "Error: terminated"
    assert any("RUN_ERROR" in e for e in d["diagnosis_evidence"]), d


def test_abort_on_the_browser_leg_goes_unseen_by_the_agent(app_built, tmp_path) -> None:
    rec = record_chat(
        tmp_path / "ck",
        tls=True,
        tokens=60,
        interval=0.05,
        leave_after_tokens=None,
        faults={"browser": ABORT_AFTER_20.replace('"both"', '"client"')},
    )
    browser = rec.run_stream("browser")
    assert browser.complete is False and len(browser.data_types) >= 20
    agent = rec.run_stream("agent")
    assert agent.complete is True and agent.data_types[-1] == "RUN_FINISHED"
    (run,) = rec.agent_runs()
    assert (run.response_end, run.model_end, run.tokens) == ("complete", "finished", 60)
    assert run_stream_diagnosis(rec.out_dir)["diagnosis_run_stream"] == "injected_fault"


@pytest.mark.parametrize("tls", [True, False], ids=["http2", "http1"])
def test_user_stop_cuts_the_agent_hop_and_ends_the_browser_stream_in_band(app_built, tmp_path, tls) -> None:
    rec = record_chat(
        tmp_path / "ck", tls=tls, tokens=120, interval=0.05, leave_after_tokens=None, stop_after_tokens=20
    )
    assert "agent/stop" in rec.calls
    browser = rec.run_stream("browser")
    assert browser.complete is True and browser.data_types[-1] == "RUN_ERROR"
    agent = rec.run_stream("agent")
    assert agent.complete is False  # the runtime cancelled its call to the agent
    (run,) = rec.agent_runs()
    assert run.response_end == "client_gone"
    assert run.model_end is not None  # and how the model call ended is logged (observed: it ran to its end)
    # not clean_close: the page stopped the run (its stop request, the hop left by the runtime, RUN_ERROR)
    d = run_stream_diagnosis(rec.out_dir)
    assert (d["diagnosis_run_stream"], d["diagnosis_actor"]) == ("client_app_close", "page"), d
    assert d["diagnosis_details"]["mechanism"].startswith("page stop"), d
    assert [e.split(" ", 3)[:3] for e in d["diagnosis_evidence"][:1]] == [["the", "page", "sent"]], d
    assert "RUN_ERROR" in d["diagnosis_evidence"][-1], d
