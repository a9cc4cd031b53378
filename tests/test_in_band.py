"""In-band failures: a clean HTTP end whose SSE events report failure is named from the deepest hop."""

from __future__ import annotations

import pytest
from tearline.analysis.diagnose.diagnosis import diagnose
from tearline.analysis.evidence.sse_data import data_type, is_failure

from tests.test_rules import SSE, o, rec

RUNTIME = "http://app.localhost:8080/api/copilotkit"
AGENT = "http://agent.localhost:8080/agent/run"


@pytest.mark.parametrize(
    ("data", "kind", "failure"),
    [
        ('{"type":"RUN_ERROR","message":"agent unreachable"}', "RUN_ERROR", True),
        ('{"type":"TEXT_MESSAGE_CONTENT","delta":"hi"}', "TEXT_MESSAGE_CONTENT", False),
        ('{"error":{"message":"overloaded","type":"server_error"}}', "error", True),
        ('{"type":"error","errorText":"boom"}', "error", True),
        ('3:"An error occurred."', "ai-sdk:error", True),  # as the recorder types it
        ('0:"text part"', "ai-sdk:text", False),
        ("3:xxxxxxxx", None, False),  # a numbered message, not an AI SDK part
        ('{"object":"chat.completion.chunk","choices":[]}', "chat.completion.chunk", False),
        ("not json", None, False),
        (None, None, False),
    ],
)
def test_data_types(data: str | None, kind: str | None, failure: bool) -> None:
    assert data_type(data) == kind
    assert is_failure("message", kind) is failure


def runtime_stream(source: str, *, error_at: float | None, key: str = "r1") -> list:
    out = [
        o(source, "request_start", 0.0, key=key, url=RUNTIME, text="POST"),
        o(source, "response_headers", 0.05, key=key, status=200, text="text/event-stream"),
        o(source, "data_received", 0.1, key=key, size=40, event="message", data_type="RUN_STARTED"),
    ]
    if error_at is not None:
        out.append(
            o(source, "data_received", error_at, key=key, size=60, event="message", data_type="RUN_ERROR")
        )
    out.append(o(source, "request_done", (error_at or 1.0) + 0.01, key=key, size=200))
    return out


def test_run_error_behind_a_runtime_hop_names_the_backend_reset() -> None:
    """The runtime's SSE ends 200/complete with RUN_ERROR; its back-end leg capture saw the agent reset."""
    d = diagnose(
        [
            rec("cdp", *runtime_stream("cdp", error_at=1.2)),
            rec(
                "capture",
                o("capture", "request_start", 0.2, key="b1", url=AGENT, text="POST", leg="client"),
                o("capture", "response_headers", 0.3, key="b1", status=200, text="sse", leg="server"),
                o("capture", "data_received", 0.4, key="b1", size=30, direction="server"),
                o("capture", "data_received", 0.5, key="b1", size=30, direction="server"),
                o("capture", "data_received", 0.6, key="b1", size=30, direction="server"),
                o(
                    "capture",
                    "socket_closed",
                    1.15,
                    key="b1",
                    leg="server",
                    how="rst",
                    by="peer",
                    error_class="reset",
                ),
            ),
        ]
    )
    run = next(s for s in d.streams if s.url == RUNTIME)
    assert (run.cause.kind, run.cause.rule, run.outcome) == ("connection_reset", "in_band", "fault")
    assert run.cause.details["in_band"] == "RUN_ERROR" and run.cause.details["hop"] == "capture server leg"
    assert [e.source for e in run.cause.evidence] == ["capture", "cdp"]  # the hop, then the in-band event
    assert any(a.kind == "clean_close" for a in run.alternatives)


def test_run_error_with_no_deeper_hop_is_an_in_band_error() -> None:
    (run,) = diagnose([rec("cdp", *runtime_stream("cdp", error_at=1.2))]).streams
    assert (run.cause.kind, run.cause.actor, run.abnormal) == ("in_band_error", "server", True)


def test_same_url_streams_are_told_apart_by_time() -> None:
    """Two runs on the one CopilotKit route: only the one whose lifetime holds the hop's failure is blamed;
    the other run, which finished well, stays a clean close."""
    first = runtime_stream("cdp", error_at=None, key="r1")
    second = [
        o(x.source, x.kind, x.t - 1_780_000_000.0 + 5.0, key="r2", **_fields(x))
        for x in runtime_stream("cdp", error_at=1.2)
    ]
    d = diagnose(
        [
            rec("cdp", *first, *second),
            rec(
                "caddy",
                o(
                    "caddy",
                    "upstream_error",
                    6.1,
                    key=None,
                    url=AGENT,
                    status=502,
                    text="upstream roundtrip: dial tcp: connection refused",
                    leg="server",
                ),
            ),
        ]
    )
    by_start = sorted(d.streams, key=lambda s: s.opened_at or 0)
    runs = [s for s in by_start if s.url == RUNTIME]
    assert [s.cause.kind for s in runs] == ["clean_close", "upstream_unavailable"]


def _fields(x):  # type: ignore[no-untyped-def]
    return {
        k: getattr(x, k)
        for k in ("url", "status", "text", "size", "event", "data_type")
        if getattr(x, k) is not None
    }


def test_a_clean_sse_end_stays_clean() -> None:
    (run,) = diagnose(
        [
            rec(
                "netlog",
                o("netlog", "request_start", 0.0, url=SSE, text="POST"),
                o("netlog", "response_headers", 0.05, status=200, text="text/event-stream"),
                o("netlog", "request_done", 1.0),
            )
        ]
    ).streams
    assert run.cause.kind == "clean_close" and run.outcome == "expected"
