"""In-band ends on the CopilotKit shape, pure: a user's stop, a fault tearline injected on the hop behind
the runtime, and the RUN_ERROR's message as evidence. (The real stack's recordings of the same ends are
diagnosed in tests/test_copilotkit_stack.py.)"""

from __future__ import annotations

from tearline.analysis.diagnose.diagnosis import diagnose
from tearline.analysis.diagnose.model import Diagnosis, StreamDiagnosis
from tearline.analysis.evidence.observation import Observation

from tests.test_rules import o, rec

RUNTIME = "https://app.localhost:8443/api/copilotkit"
AGENT = "http://ai.localhost:8443/agent"


def run_stream(*, error_at: float = 2.0, payload: str | None = None) -> list[Observation]:
    """The browser's agent/run stream as the browser tap recorded it: 200, RUN_STARTED ... RUN_ERROR, done."""
    return [
        o("capture", "request_start", 0.0, key="run", url=RUNTIME, text="POST", leg="client"),
        o("capture", "response_headers", 0.2, key="run", status=200, text="sse", leg="server"),
        o("capture", "data_received", 0.3, key="run", size=90, event="message", data_type="RUN_STARTED"),
        o(
            "capture",
            "data_received",
            error_at,
            key="run",
            size=80,
            event="message",
            data_type="RUN_ERROR",
            payload=payload,
        ),
        o(
            "capture",
            "request_done",
            error_at + 0.01,
            key="run",
            size=9000,
            how="terminated",
            text="terminated",
        ),
    ]


def agent_hop(*, end: list[Observation]) -> list[Observation]:
    """The runtime's call to the agent as the agent tap recorded it, ended by ``end``."""
    return [
        o("capture", "request_start", 0.1, key="hop", url=AGENT, text="POST", leg="client"),
        o("capture", "response_headers", 0.15, key="hop", status=200, text="sse", leg="server"),
        o("capture", "data_received", 0.25, key="hop", size=90, direction="server"),
        *end,
    ]


def stop_request(at: float, method: str = "POST") -> list[Observation]:
    """The page's stop call on the run's own route, as the NetLog saw it (not a stream), beside the NetLog's
    view of the run stream itself."""
    return [
        o("netlog", "request_start", 0.0, key="run", url=RUNTIME, text="POST"),
        o("netlog", "response_headers", 0.21, key="run", status=200, text="text/event-stream"),
        o("netlog", "request_done", 2.02, key="run", size=9000),
        o("netlog", "request_start", at, key="stop", url=RUNTIME, text=method),
        o("netlog", "response_headers", at + 0.3, key="stop", status=200, text="application/json"),
        o("netlog", "request_done", at + 0.35, key="stop", size=40),
    ]


CLIENT_LEFT = [
    o(
        "capture",
        "request_failed",
        1.9,
        key="hop",
        leg="client",
        error_class="client_gone",
        text="Client disconnected.",
    )
]


def the_run(d: Diagnosis) -> StreamDiagnosis:
    return next(s for s in d.streams if s.url == RUNTIME and s.cause.details.get("in_band"))


def test_user_stop_is_the_page_closing_the_run() -> None:
    d = diagnose(
        [rec("capture", *run_stream(), *agent_hop(end=CLIENT_LEFT)), rec("netlog", *stop_request(1.5))]
    )
    run = the_run(d)
    assert (run.cause.kind, run.cause.actor, run.outcome) == ("client_app_close", "page", "expected")
    assert run.cause.details["mechanism"].startswith("page stop")
    texts = [e.text for e in run.cause.evidence]
    assert "POST" in texts[0] and "left by its client" in texts[1] and "RUN_ERROR" in texts[2]
    assert run.cause.evidence[2].t == 1_780_000_002.0  # the in-band event's own time


def test_user_stop_with_the_runtime_resetting_the_hop_is_still_the_page() -> None:
    """The runtime hung up on the agent hop with an RST (it left with data unread): the recorder on that hop
    saw its client leg reset by its peer. That is the runtime leaving, not a reset behind it."""
    reset_by_client = [
        o("capture", "socket_closed", 1.9, key="hop", leg="client", how="rst", by="peer", error_class="reset")
    ]
    d = diagnose(
        [rec("capture", *run_stream(), *agent_hop(end=reset_by_client)), rec("netlog", *stop_request(1.5))]
    )
    run = the_run(d)
    assert (run.cause.kind, run.cause.actor, run.outcome) == ("client_app_close", "page", "expected"), (
        run.cause
    )
    assert "left by its client" in run.cause.evidence[1].text


def test_a_get_during_the_run_is_no_stop() -> None:
    d = diagnose(
        [rec("capture", *run_stream(), *agent_hop(end=CLIENT_LEFT)), rec("netlog", *stop_request(1.5, "GET"))]
    )
    assert the_run(d).cause.kind == "in_band_error"


def test_a_request_before_the_run_is_no_stop() -> None:
    early = [
        o(x.source, x.kind, x.t - 1_780_000_000.0 - 3.0, key="stop", url=x.url, text=x.text, status=x.status)
        if x.stream_key == "stop"
        else x
        for x in stop_request(1.5)
    ]
    d = diagnose([rec("capture", *run_stream(), *agent_hop(end=CLIENT_LEFT)), rec("netlog", *early)])
    assert the_run(d).cause.kind == "in_band_error"


def test_a_hop_that_failed_wins_over_a_stop() -> None:
    """The page asked to stop, but the agent hop was reset first: the reset is the cause."""
    reset = [
        o("capture", "socket_closed", 1.4, key="hop", leg="server", how="rst", by="peer", error_class="reset")
    ]
    d = diagnose([rec("capture", *run_stream(), *agent_hop(end=reset)), rec("netlog", *stop_request(1.5))])
    assert the_run(d).cause.kind == "connection_reset"


def test_an_injected_fault_on_the_hop_is_named_with_what_the_hop_saw() -> None:
    fault = [
        o("capture", "fault", 1.80, key="hop", leg="client", text="abort (faults-agent.toml#1): client: fin"),
        o("caddy", "proxy_abort", 1.82, key=None, url=AGENT, leg="server", text="reading: unexpected EOF"),
    ]
    d = diagnose([rec("capture", *run_stream(), *agent_hop(end=fault))])
    run = the_run(d)
    assert (run.cause.kind, run.cause.actor) == ("injected_fault", "tearline")
    assert run.cause.details["hop_kind"] == "server_abrupt_close"
    assert run.cause.evidence[0].text.endswith("abort (faults-agent.toml#1): client: fin")


def test_the_message_comes_from_the_kept_payload() -> None:
    payload = '{"type":"RUN_ERROR","message":"terminated","code":"INCOMPLETE_STREAM"}'
    (run,) = diagnose([rec("capture", *run_stream(payload=payload))]).streams
    assert run.cause.details["message"] == "terminated / INCOMPLETE_STREAM"
    assert run.cause.evidence[-1].text.endswith(": terminated / INCOMPLETE_STREAM")


def test_the_message_comes_from_the_console_without_a_payload() -> None:
    line = (
        "[CopilotKit] sendMessage error: terminated Error: terminated\n"
        "    at Object.onRunErrorEvent (https://app.localhost:8443/_next/static/chunks/x.js:8:21382)"
    )
    d = diagnose(
        [
            rec("capture", *run_stream()),
            rec("console", o("console", "console", 2.05, key=None, text=line, level="error")),
        ]
    )
    (run,) = d.streams
    assert run.cause.details["message"] == "[CopilotKit] sendMessage error: terminated"


def test_a_console_error_long_after_the_event_is_not_its_message() -> None:
    d = diagnose(
        [
            rec("capture", *run_stream()),
            rec("console", o("console", "console", 9.0, key=None, text="unrelated failure", level="error")),
        ]
    )
    (run,) = d.streams
    assert "message" not in run.cause.details


def test_a_reset_the_proxy_read_on_the_hop_is_a_connection_reset() -> None:
    fault = [
        o("capture", "fault", 1.80, key="hop", leg="client", text="reset (faults-agent.toml#1): client: rst"),
        o(
            "caddy",
            "proxy_abort",
            1.82,
            key=None,
            url=AGENT,
            leg="server",
            text="aborting with incomplete response: reading: read tcp ...: read: connection reset by peer",
        ),
    ]
    run = the_run(diagnose([rec("capture", *run_stream(), *agent_hop(end=fault))]))
    assert (run.cause.kind, run.cause.details["hop_kind"]) == ("injected_fault", "connection_reset")


def test_a_proxy_timer_on_the_hop_wins_over_the_fault_that_made_it_silent() -> None:
    """tearline stalled the agent; Caddy's read_timeout then cut the hop: the timer ended it."""
    end = [
        o(
            "capture",
            "fault",
            0.5,
            key="hop",
            leg="client",
            text="stall (faults-agent.toml#1): stalled 15000 ms",
        ),
        o("caddy", "request_start", 0.1, key="c1", url=AGENT, text="POST"),
        o(
            "caddy",
            "proxy_timeout",
            1.9,
            key="c1",
            url=AGENT,
            timer="Caddy reverse_proxy transport read_timeout",
            error_class="timeout",
            text="Caddy reverse_proxy transport read_timeout fired: reading: i/o timeout",
        ),
    ]
    run = the_run(diagnose([rec("capture", *run_stream(), *agent_hop(end=end))]))
    assert (run.cause.kind, run.cause.actor) == ("proxy_timeout", "proxy")
    assert run.cause.details["timer"] == "Caddy reverse_proxy transport read_timeout"
    assert run.cause.details["injected"].startswith("stall")
