"""What an SSE event's data says about itself: its JSON ``type`` (or shape), and whether it reports failure.

Streaming APIs end a failed run *inside* a stream that ends cleanly at HTTP level; the event's data
names it. ``data_type(data)`` reads the shape the way the recorder's ``data_type`` field does (#9):
the JSON object's ``type`` (AG-UI ``RUN_ERROR``, OpenAI Responses ``error`` / ``response.failed``,
Vercel AI SDK UI-message-stream ``error``), ``"error"`` for an object whose only meaning is an
``error`` member (OpenAI chat completions' ``{"error": {...}}``), and the Vercel AI SDK data-stream
part code (``3:"..."`` is an error part). ``FAILURE_TYPES`` is the table of types that mean failure.
"""

from __future__ import annotations

import json
import re

__all__ = ["FAILURE_EVENTS", "FAILURE_TYPES", "data_type", "is_failure"]

# data_type -> what it is, for a person
FAILURE_TYPES: dict[str, str] = {
    "RUN_ERROR": "AG-UI RUN_ERROR event (the agent run failed)",
    "error": "an error event (OpenAI-style error object / Vercel AI SDK error part)",
    "response.failed": "OpenAI Responses API response.failed event",
    "response.error": "an OpenAI-style response.error event",
    "vercel:3": "Vercel AI SDK data-stream error part (3:)",
}
# SSE event names (the ``event:`` field) that mean failure
FAILURE_EVENTS: tuple[str, ...] = ("error",)

_VERCEL_PART = re.compile(r"^([0-9a-z]):")


def data_type(data: str | None) -> str | None:
    """The JSON ``type`` of an SSE event's data (or a shape name), None when it says nothing."""
    if not data:
        return None
    s = data.strip()
    if s.startswith("{"):
        try:
            obj = json.loads(s)
        except ValueError:
            obj = None
        if isinstance(obj, dict):
            t = obj.get("type")
            if isinstance(t, str) and t:
                return t
            if "error" in obj and obj.get("error"):
                return "error"
        return None
    m = _VERCEL_PART.match(s)
    return f"vercel:{m.group(1)}" if m else None


def is_failure(event: str | None, dtype: str | None) -> bool:
    """Does an SSE event with this name and data type report a failure?"""
    return (event or "").lower() in FAILURE_EVENTS or (dtype or "") in FAILURE_TYPES
