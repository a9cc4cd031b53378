"""The type of an SSE event's data, read from its JSON, without keeping any of its content.

Streaming APIs put the kind of each event inside its ``data:`` JSON. ``sse_data_type(data)`` names it:

- AG-UI (CopilotKit, LangGraph, ...), Anthropic, OpenAI's Responses API, the Vercel AI SDK's UI message
  stream: the ``type`` field (``RUN_STARTED``, ``TEXT_MESSAGE_CONTENT``, ``RUN_ERROR``,
  ``content_block_delta``, ``response.output_text.delta``, ``text-delta``, ``error``);
- OpenAI-style chat completions: the ``object`` field (``chat.completion.chunk``), ``error`` for an error
  object, and ``[DONE]`` for the end marker;
- the Vercel AI SDK's data stream parts (``0:"text"``, ``3:"error"``, ``d:{...}``): ``ai-sdk:<part>``
  (``ai-sdk:text``, ``ai-sdk:error``, ``ai-sdk:finish_message``), when what follows the colon is JSON.

Only a short identifier-like name is returned (letters, digits, ``_.:/-``, at most 64 characters), so
no message text can leak through it; anything else gives ``None``.
"""

from __future__ import annotations

import json
import re

__all__ = ["sse_data_type"]

_NAME = re.compile(r"[A-Za-z0-9_.:/\-\[\]]{1,64}")
# Most streams put the type first; read it without parsing a large body.
_LEADING = re.compile(r'\{\s*"(type|object)"\s*:\s*"([^"\\]{1,64})"')
_PARSE_LIMIT = 65536  # larger bodies are only looked at through _LEADING

# https://sdk.vercel.ai/docs (data stream protocol, v4): one character, a colon, JSON.
_AI_SDK_PARTS = {
    "0": "text",
    "2": "data",
    "3": "error",
    "8": "message_annotations",
    "9": "tool_call",
    "a": "tool_result",
    "b": "tool_call_streaming_start",
    "c": "tool_call_delta",
    "d": "finish_message",
    "e": "finish_step",
    "f": "start_step",
    "g": "reasoning",
    "h": "source",
    "i": "redacted_reasoning",
    "j": "reasoning_signature",
    "k": "file",
}


def _name(value: object) -> str | None:
    return value if isinstance(value, str) and _NAME.fullmatch(value) else None


def sse_data_type(data: str) -> str | None:
    """The event's type from its data (see the module docstring), or None when it names none."""
    text = data.strip()
    if not text:
        return None
    if text == "[DONE]":
        return "[DONE]"
    if text[0] == "{":
        m = _LEADING.match(text)
        if m and m.group(1) == "type":
            return _name(m.group(2))
        if len(text) > _PARSE_LIMIT:
            return _name(m.group(2)) if m else None
        try:
            obj = json.loads(text)
        except ValueError:
            return None
        if not isinstance(obj, dict):
            return None
        for key in ("type", "object"):
            if key in obj:
                return _name(obj[key])
        return "error" if "error" in obj else None
    if len(text) >= 2 and text[1] == ":" and text[0] in _AI_SDK_PARTS and _is_json(text[2:]):
        return "ai-sdk:" + _AI_SDK_PARTS[text[0]]
    return None


def _is_json(value: str) -> bool:
    """A data-stream part's value is JSON (``3:"An error occurred."``); ``3:abc`` is plain text that only
    starts like a part (the lab's numbered messages, a log line), not an AI SDK part."""
    value = value.strip()
    if not value:
        return False
    if len(value) > _PARSE_LIMIT:
        return value[0] in '"{['
    try:
        json.loads(value)
    except ValueError:
        return False
    return True
