"""What one run showed, as a user would report it, and matching field reports against it.

Pure: ``run_symptoms`` turns a run's diagnosis (``Diagnosis.to_dict()``), its
DevTools events, console lines, final page state, step times and back-end log
lines into the ``run.json`` record the matrix tabulates::

    error_page, error_page_text, main_frame_error, console_errors,
    streams: [{url, kind, net_error, close_code, was_clean, console_errors, cause_kind, actor}],
    backend_went_on_s  (seconds the bundled back end kept producing after the browser left)

``shows(record, symptom)`` says whether a run showed a field report such as
``ERR_HTTP2_PROTOCOL_ERROR``, ``1006``, ``Error code: 11`` or a console text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from tearline.runs.model import Expect

__all__ = ["LEAVING_STEPS", "check_expect", "run_symptoms", "shows", "symptom_texts"]

LEAVING_STEPS = ("click", "navigate", "reload", "back", "close_tab", "crash_renderer", "offline")
_NET = re.compile(r"\b(ERR_[A-Z0-9_]+)\b")
_CLOSED = re.compile(r"closed (\d{4}) (clean|unclean)")
_BACKEND_END_MSGS = ("client went away", "run ending", "run cancelled", "client closed", "close answered")
_END_PREFERENCE = ("netlog", "cdp", "har", "capture", "caddy")


def _ends(stream: Mapping[str, Any]) -> list[tuple[str, str]]:
    ends = (stream.get("stats") or {}).get("ends") or {}
    return sorted(
        ends.items(),
        key=lambda kv: next((i for i, p in enumerate(_END_PREFERENCE) if kv[0].startswith(p)), 9),
    )


def _stream_row(stream: Mapping[str, Any], console_errors: Sequence[str]) -> dict[str, Any]:
    net_error = close_code = was_clean = None
    for _, text in _ends(stream):
        if net_error is None and (m := _NET.search(text)):
            net_error = m.group(1)
        if close_code is None and (m := _CLOSED.search(text)):
            close_code, was_clean = int(m.group(1)), m.group(2) == "clean"
    path = urlsplit(stream.get("url", "")).path
    kind = stream.get("kind", "")
    words = [w for w in (path, f"{kind} ") if w and w != "/"]
    cause = stream.get("cause") or {}
    return {
        "url": stream.get("url", ""),
        "kind": kind,
        "net_error": net_error,
        "close_code": close_code,
        "was_clean": was_clean,
        "console_errors": sum(1 for ln in console_errors if any(w in ln for w in words)),
        "cause_kind": cause.get("kind"),
        "actor": cause.get("actor"),
    }


def _crash_code(cdp_events: Sequence[Mapping[str, Any]]) -> int | None:
    for ev in cdp_events:
        if ev.get("method") == "Target.targetCrashed":
            params = ev.get("params") or {}
            code = params.get("errorCode", params.get("status"))
            return int(code) if isinstance(code, int) else None
    return None


def _main_frame_error(cdp_events: Sequence[Mapping[str, Any]]) -> str | None:
    for ev in cdp_events:
        params = ev.get("params") or {}
        if ev.get("method") == "Network.loadingFailed" and params.get("type") == "Document":
            text = str(params.get("errorText", ""))
            if "ERR_ABORTED" not in text:
                return text.removeprefix("net::")
    return None


def _backend_went_on(step_times: Sequence[Mapping[str, Any]], backend_lines: Sequence[str]) -> float | None:
    left = [s["t"] for s in step_times if s.get("action") in LEAVING_STEPS]
    if not left:
        return None
    left_at = left[0]
    ends = []
    for line in backend_lines:
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if (
            isinstance(rec, dict)
            and rec.get("msg") in _BACKEND_END_MSGS
            and isinstance(rec.get("ts"), int | float)
        ):
            ends.append(float(rec["ts"]))
    after = [t for t in ends if t >= left_at - 0.05]
    return round(max(after) - left_at, 3) if after else None


def run_symptoms(
    *,
    diagnosis: Mapping[str, Any] | None,
    cdp_events: Sequence[Mapping[str, Any]],
    console_lines: Sequence[str],
    page_state: Mapping[str, Any],
    step_times: Sequence[Mapping[str, Any]],
    backend_lines: Sequence[str],
) -> dict[str, Any]:
    """The record of what one run showed (see the module doc)."""
    console_errors = [
        ln for ln in console_lines if "] " in ln and ln.split("] ", 1)[0].endswith(("[error", "[pageerror"))
    ]
    crash = _crash_code(cdp_events)
    main_error = _main_frame_error(cdp_events)
    error_text = page_state.get("error_page_text")
    if page_state.get("crashed") or crash is not None:
        error_text = f"Can't open this page. Error code: {crash if crash is not None else 'unknown'}"
    elif error_text is None and main_error is not None:
        error_text = main_error
    streams = [_stream_row(s, console_errors) for s in (diagnosis or {}).get("streams", [])]
    return {
        "error_page": bool(error_text),
        "error_page_text": error_text,
        "main_frame_error": main_error,
        "console_errors": len(console_errors),
        "console_error_lines": [ln.split(" ", 1)[-1] for ln in console_errors[:20]],
        "streams": streams,
        "backend_went_on_s": _backend_went_on(step_times, backend_lines),
        "step_times": list(step_times),
    }


def symptom_texts(record: Mapping[str, Any]) -> list[str]:
    """Every text a field report could be matched against in a run's record."""
    texts = [record.get("error_page_text") or "", record.get("main_frame_error") or ""]
    texts += list(record.get("console_error_lines") or [])
    for s in record.get("streams") or []:
        texts += [s.get("net_error") or "", s.get("cause_kind") or ""]
        if s.get("close_code") is not None:
            texts.append(str(s["close_code"]))
    if record.get("step_error"):
        texts.append(record["step_error"])
    return [t for t in texts if t]


def shows(record: Mapping[str, Any], symptom: str) -> bool:
    """Whether the run showed ``symptom``: a close code matches exactly, anything else as a substring (any case)."""
    needle = symptom.strip().lower().removeprefix("net::")
    if not needle:
        return False
    if needle.isdigit():
        codes = {str(s.get("close_code")) for s in record.get("streams") or []}
        if needle in codes:
            return True
    return any(needle in t.lower() for t in symptom_texts(record) if not (needle.isdigit() and t.isdigit()))


def check_expect(expect: Expect, record: Mapping[str, Any]) -> list[str]:
    """One line per failed expectation of the run file's ``[expect]`` ([] when all hold)."""
    failures = []
    if expect.error_page is not None and bool(record.get("error_page")) != expect.error_page:
        shown = record.get("error_page_text") or "none"
        failures.append(f"expected error_page = {str(expect.error_page).lower()}, the page showed: {shown}")
    streams = record.get("streams") or []
    for e in expect.streams:
        matching = [s for s in streams if e.url in s.get("url", "")]
        if not matching:
            failures.append(f"expected a stream matching {e.url!r}, none was seen")
        wrong = [s for s in matching if s.get("cause_kind") not in e.causes]
        if e.which == "some":
            if matching and len(wrong) == len(matching):
                seen = ", ".join(sorted({str(s.get("cause_kind")) for s in wrong}))
                failures.append(
                    f"no stream matching {e.url!r} ended with {' or '.join(e.causes)} (seen: {seen})"
                )
            continue
        for s in wrong:
            failures.append(
                f"{s['kind']} {s['url']}: cause {s.get('cause_kind')}, expected {' or '.join(e.causes)}"
            )
    return failures
