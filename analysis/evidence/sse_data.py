"""What an SSE event's data says about itself: its type (or shape), and whether it reports failure.

Streaming APIs end a failed run *inside* a stream that ends cleanly at HTTP level; the event's data
names it. ``data_type(data)`` is the recorder's own reading (``tearline.sse_types.sse_data_type``, the
``data_type`` field of a capture's ``sse_event``), applied here to data a source kept (a capture's
payload, DevTools' EventSource messages): AG-UI ``RUN_ERROR``, OpenAI Responses ``error`` /
``response.failed``, Vercel AI SDK UI-message-stream ``error``, ``"error"`` for an object whose only
meaning is an ``error`` member (OpenAI chat completions' ``{"error": {...}}``), and the Vercel AI SDK
data-stream parts (``3:"..."`` is ``ai-sdk:error``). ``FAILURE_TYPES`` is the table of types that mean
failure.
"""

from __future__ import annotations

from tearline.sse_types import sse_data_type

__all__ = ["FAILURE_EVENTS", "FAILURE_TYPES", "data_type", "is_failure"]

# data_type -> what it is, for a person
FAILURE_TYPES: dict[str, str] = {
    "RUN_ERROR": "AG-UI RUN_ERROR event (the agent run failed)",
    "error": "an error event (OpenAI-style error object / Vercel AI SDK UI-message-stream error)",
    "response.failed": "OpenAI Responses API response.failed event",
    "response.error": "an OpenAI-style response.error event",
    "ai-sdk:error": "Vercel AI SDK data-stream error part (3:)",
}
# SSE event names (the ``event:`` field) that mean failure
FAILURE_EVENTS: tuple[str, ...] = ("error",)


def data_type(data: str | None) -> str | None:
    """The type an SSE event's data names (as the recorder reads it), None when it says nothing."""
    return sse_data_type(data) if data else None


def is_failure(event: str | None, dtype: str | None) -> bool:
    """Does an SSE event with this name and data type report a failure?"""
    return (event or "").lower() in FAILURE_EVENTS or (dtype or "") in FAILURE_TYPES
