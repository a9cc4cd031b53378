"""The recorder's options (``--set trace_*``), parsed and checked by pure functions.

``addons/ws_trace.py`` declares the options and calls ``parse_trace_options`` in
``configure``; a ``UsageError`` becomes mitmproxy's ``OptionsError`` (mitmdump stops
at start-up with the message). Times in the options are integer milliseconds
because mitmproxy's ``--set`` has no float type.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tearline.errors import UsageError
from tearline.payload import PayloadPolicy, parse_payload_policy
from tearline.redact import Redactor

__all__ = [
    "DEFAULT_DIR",
    "OPTION_ALLOWED",
    "OPTION_KINDS",
    "OPTION_NAMES",
    "TraceConfig",
    "check_trace_file",
    "default_trace_file",
    "parse_trace_options",
    "stream_kind",
]

DEFAULT_DIR = "captures"

OPTION_NAMES = (
    "trace_file",
    "trace_payload",
    "trace_redact_headers",
    "trace_redact_params",
    "trace_stream",
    "trace_keep_messages",
    "trace_flush_ms",
)

# mitmproxy's type of each option (``tearline.option_values`` checks values before mitmproxy does).
OPTION_KINDS = {name: "str" for name in OPTION_NAMES} | {
    "trace_keep_messages": "int",
    "trace_flush_ms": "int",
}
OPTION_ALLOWED = {
    "trace_keep_messages": "-1 (keep all) or a count >= 0",
    "trace_flush_ms": "milliseconds from 1 to 1000",
}


def default_trace_file(now: float | None = None) -> str:
    """``captures/<UTC timestamp>.jsonl`` relative to the working directory."""
    t = datetime.fromtimestamp(time.time() if now is None else now, UTC)
    return f"{DEFAULT_DIR}/{t.strftime('%Y%m%dT%H%M%S')}Z.jsonl"


def check_trace_file(path: str, *, default: bool = False) -> None:
    """``UsageError`` unless ``path`` can be created in an existing, writable folder.

    Only the default folder (``captures/``) is created by the recorder; any other
    missing folder is the user's to create (no ``mkdir -p`` on someone's behalf)."""
    folder = os.path.dirname(path) or "."
    if default and folder == DEFAULT_DIR and not os.path.exists(folder):
        folder = "."
    if os.path.isdir(path):
        raise UsageError(
            f"trace_file={path!r} is a folder; pass a file path such as {path.rstrip('/')}/capture.jsonl",
            place="option trace_file",
        )
    if not os.path.isdir(folder):
        raise UsageError(
            f"trace_file={path!r}: folder {folder!r} does not exist; create it first or pass another path",
            place="option trace_file",
        )
    if not os.access(folder, os.W_OK | os.X_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        raise UsageError(
            f"trace_file={path!r}: not writable by this user; pass a writable path",
            place="option trace_file",
        )


@dataclass(frozen=True)
class TraceConfig:
    """The recorder's options, parsed and checked."""

    trace_file: str
    payload: PayloadPolicy = field(default_factory=PayloadPolicy)
    redactor: Redactor = field(default_factory=Redactor)
    stream_filter: str = ""
    keep_messages: int = 8
    flush_s: float = 0.1


def parse_trace_options(
    opts: dict[str, Any], *, check_filter: Callable[[str], object] | None = None
) -> TraceConfig:
    """Pure: option values -> ``TraceConfig``; ``UsageError`` naming the option and the allowed values.

    ``check_filter`` validates a ``trace_stream`` filter expression (the addon passes
    ``mitmproxy.flowfilter.parse``, which raises ``ValueError``)."""
    keep = opts.get("trace_keep_messages", 8)
    if not isinstance(keep, int) or keep < -1:
        raise UsageError(
            f"trace_keep_messages={keep!r} is not valid; use -1 (keep all) or a count >= 0",
            place="option trace_keep_messages",
        )
    flush_ms = opts.get("trace_flush_ms", 100)
    if not isinstance(flush_ms, int) or not 1 <= flush_ms <= 1000:
        raise UsageError(
            f"trace_flush_ms={flush_ms!r} is not valid; use milliseconds from 1 to 1000",
            place="option trace_flush_ms",
        )
    expr = (opts.get("trace_stream") or "").strip()
    if expr:
        try:
            if check_filter is not None:
                check_filter(expr)
        except ValueError as e:
            raise UsageError(
                f"trace_stream={expr!r} is not a mitmproxy filter expression ({e}); e.g. '~u /api/stream'",
                place="option trace_stream",
            ) from None
    for name in ("trace_redact_headers", "trace_redact_params"):
        value = opts.get(name) or ""
        if not isinstance(value, str) or not re.fullmatch(
            r"\s*(-|\+?[A-Za-z0-9_.\-]+(\s*,\s*[A-Za-z0-9_.\-]+)*)?\s*,?\s*", value
        ):
            raise UsageError(
                f"{name}={value!r} is not valid; use comma-separated names, '+name,...' to add to "
                "the defaults, '-' for none, or '' for the defaults",
                place=f"option {name}",
            )
    return TraceConfig(
        trace_file=opts.get("trace_file") or default_trace_file(),
        payload=parse_payload_policy(str(opts.get("trace_payload") or "none")),
        redactor=Redactor.from_options(
            opts.get("trace_redact_headers") or "", opts.get("trace_redact_params") or ""
        ),
        stream_filter=expr,
        keep_messages=keep,
        flush_s=flush_ms / 1000,
    )


def stream_kind(headers: Iterable[tuple[str, str]], forced: bool) -> tuple[str, bool]:
    """(kind, stream it?) from response headers (pure): SSE, chunked without length, or forced."""
    h = {k.lower(): v for k, v in headers}
    ctype = h.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "text/event-stream":
        return "sse", True
    chunked = "chunked" in h.get("transfer-encoding", "").lower() and "content-length" not in h
    if chunked or forced:
        return "http-stream", True
    return "http", False
