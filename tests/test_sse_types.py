"""sse_data_type: the type an SSE event's JSON data names, never its content."""

from __future__ import annotations

import json

import pytest

from tearline.sse import SseParser
from tearline.sse_types import sse_data_type


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ('{"type":"RUN_STARTED","threadId":"t","runId":"r"}', "RUN_STARTED"),
        ('{"type":"TEXT_MESSAGE_CONTENT","messageId":"m","delta":"hello "}', "TEXT_MESSAGE_CONTENT"),
        ('{"type":"RUN_ERROR","message":"terminated","code":"INCOMPLETE_STREAM"}', "RUN_ERROR"),
        (
            '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}',
            "content_block_delta",
        ),
        ('{"type":"response.output_text.delta","delta":"Hi"}', "response.output_text.delta"),
        ('{"type":"text-delta","id":"0","delta":"Hi"}', "text-delta"),
        (
            '{"id":"c1","object":"chat.completion.chunk","choices":[{"delta":{"content":"Hi"}}]}',
            "chat.completion.chunk",
        ),
        ('{"error":{"message":"Rate limit","type":"rate_limit_error"}}', "error"),
        ("[DONE]", "[DONE]"),
        ('0:"Hello"', "ai-sdk:text"),
        ('3:"An error occurred."', "ai-sdk:error"),
        ('d:{"finishReason":"stop"}', "ai-sdk:finish_message"),
        ("3:xxxxxxxxxxxx", None),  # starts like a part, but no JSON follows: the lab's numbered messages
        ("0: hello", None),
        ("plain text, no JSON", None),
        ('{"delta":"no type here"}', None),
        ("[1, 2]", None),
        ('{"type": 5}', None),
        ("", None),
        ("{not json", None),
    ],
)
def test_named_types(data: str, expected: str | None) -> None:
    assert sse_data_type(data) == expected


def test_a_type_that_carries_text_is_not_recorded() -> None:
    # a "type" holding free text (spaces, a sentence) is content, not a name
    assert sse_data_type('{"type":"the user asked about their bank account"}') is None
    assert sse_data_type(json.dumps({"type": "x" * 65})) is None


def test_type_after_a_large_first_field_is_found() -> None:
    big = json.dumps({"rawEvent": {"data": "x" * 1000}, "type": "TEXT_MESSAGE_END"})
    assert sse_data_type(big) == "TEXT_MESSAGE_END"


def test_huge_events_are_named_only_from_a_leading_type() -> None:
    assert sse_data_type(json.dumps({"type": "RAW", "event": "y" * 100_000})) == "RAW"
    assert sse_data_type(json.dumps({"event": "y" * 100_000, "type": "RAW"})) is None


def test_from_a_parsed_ag_ui_stream() -> None:
    body = b"".join(
        b"data: " + json.dumps({"type": t, "delta": "secret words"}).encode() + b"\n\n"
        for t in ("RUN_STARTED", "TEXT_MESSAGE_CONTENT", "RUN_FINISHED")
    )
    events = SseParser().feed(body)
    assert [sse_data_type(e.data) for e in events] == ["RUN_STARTED", "TEXT_MESSAGE_CONTENT", "RUN_FINISHED"]
