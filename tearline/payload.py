"""Payload policy: how much message content a capture keeps (pure).

``none`` (default): no content, only sizes, SSE event names/ids and message types.
``preview:N``: the first N bytes. ``full``: everything. Text that is valid UTF-8
is stored as is (``payload_encoding="utf-8"``), anything else as base64.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from tearline.errors import UsageError

__all__ = ["PayloadPolicy", "parse_payload_policy"]

_SYNTAX = "none, preview:N (N bytes, N >= 1) or full"


@dataclass(frozen=True, slots=True)
class PayloadPolicy:
    """``limit``: None = keep nothing, -1 = keep all, N > 0 = keep the first N bytes."""

    limit: int | None = None

    @property
    def text(self) -> str:
        if self.limit is None:
            return "none"
        return "full" if self.limit < 0 else f"preview:{self.limit}"

    def fields(self, content: bytes | str | None) -> dict[str, Any]:
        """The ``payload``/``payload_encoding``/``payload_truncated`` kwargs for an event."""
        if self.limit is None or content is None:
            return {}
        data = content.encode() if isinstance(content, str) else bytes(content)
        truncated = 0 <= self.limit < len(data)
        if truncated:
            data = data[: self.limit]
        try:
            text = data.decode("utf-8")
            enc = "utf-8"
        except UnicodeDecodeError as e:
            if truncated and e.start >= len(data) - 3 and e.reason == "unexpected end of data":
                text, enc = data[: e.start].decode("utf-8"), "utf-8"  # a preview cut mid-character
            else:
                text, enc = base64.b64encode(data).decode("ascii"), "base64"
        return {"payload": text, "payload_encoding": enc, "payload_truncated": truncated}


def parse_payload_policy(text: str, *, option: str = "trace_payload") -> PayloadPolicy:
    """``"none"`` | ``"preview:N"`` | ``"full"`` -> ``PayloadPolicy``; ``UsageError`` otherwise."""
    t = text.strip().lower()
    if t in ("", "none"):
        return PayloadPolicy(None)
    if t == "full":
        return PayloadPolicy(-1)
    if t.startswith("preview:"):
        n = t.partition(":")[2]
        if n.isdigit() and int(n) >= 1:
            return PayloadPolicy(int(n))
    raise UsageError(f"{option}={text!r} is not valid; use {_SYNTAX}", place=f"option {option}")
