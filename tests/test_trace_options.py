"""Parsing the recorder's options (pure)."""

from __future__ import annotations

import re

import pytest

from tearline.errors import UsageError
from tearline.trace_options import default_trace_file, parse_trace_options, stream_kind


def test_defaults():
    cfg = parse_trace_options({})
    assert re.fullmatch(r"captures/\d{8}T\d{6}Z\.jsonl", cfg.trace_file)
    assert cfg.payload.limit is None and cfg.keep_messages == 8 and cfg.flush_s == pytest.approx(0.1)
    assert "authorization" in cfg.redactor.headers and "token" in cfg.redactor.params


def test_values():
    cfg = parse_trace_options(
        {
            "trace_file": "x.jsonl",
            "trace_payload": "full",
            "trace_redact_headers": "x-a,x-b",
            "trace_redact_params": "-",
            "trace_stream": "~u /api",
            "trace_keep_messages": -1,
            "trace_flush_ms": 20,
        },
        check_filter=lambda e: None,
    )
    assert (cfg.trace_file, cfg.payload.text, cfg.redactor.headers, cfg.redactor.params) == (
        "x.jsonl",
        "full",
        ("x-a", "x-b"),
        (),
    )
    assert (cfg.stream_filter, cfg.keep_messages, cfg.flush_s) == ("~u /api", -1, 0.02)


@pytest.mark.parametrize(
    ("opts", "name"),
    [
        ({"trace_payload": "some"}, "trace_payload"),
        ({"trace_keep_messages": -2}, "trace_keep_messages"),
        ({"trace_flush_ms": 5000}, "trace_flush_ms"),
        ({"trace_redact_headers": "a b"}, "trace_redact_headers"),
        ({"trace_redact_params": "x;y"}, "trace_redact_params"),
        ({"trace_stream": "~q("}, "trace_stream"),
    ],
)
def test_bad_values_name_the_option(opts, name):
    def bad_filter(expr):
        raise ValueError("invalid filter expression")

    with pytest.raises(UsageError) as err:
        parse_trace_options(opts, check_filter=bad_filter)
    assert name in str(err.value)


def test_default_trace_file_is_utc():
    assert default_trace_file(0.0) == "captures/19700101T000000Z.jsonl"


@pytest.mark.parametrize(
    ("headers", "forced", "expected"),
    [
        ([("Content-Type", "text/event-stream; charset=utf-8")], False, ("sse", True)),
        ([("Transfer-Encoding", "chunked")], False, ("http-stream", True)),
        ([("Transfer-Encoding", "chunked"), ("Content-Length", "3")], False, ("http", False)),
        ([("Content-Length", "3")], False, ("http", False)),
        ([("Content-Length", "3")], True, ("http-stream", True)),
    ],
)
def test_stream_kind(headers, forced, expected):
    assert stream_kind(headers, forced) == expected
