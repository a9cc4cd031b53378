"""Caddy v2 JSON logs -> ``SourceRecord`` (source ``caddy``).

One JSON object per line (``level``, ``ts``, ``logger``, ``msg``, fields). ``ts`` is epoch seconds
by default; milliseconds/microseconds (by magnitude), ISO-8601 strings and Caddy's ``wall`` formats
are read too. Lines that are not JSON (a console-format log mixed in, a banner) are skipped with a
warning; a file with no Caddy JSON line at all is an ``InputError``.

Rules (a table: ``(logger prefix, msg) -> handler``), as verified on Caddy 2.11:

============================================  ==================================================
``http.log.access*`` "handled request"         ``access``: url, status, size (bytes sent), duration
                                               (seconds), text = "METHOD proto"; a 101 line
                                               is written when the WebSocket ends
``http.handlers.reverse_proxy``
  "aborting with incomplete response"          ``proxy_abort`` (text = error; leg ``server`` for
                                               ``reading: ...`` from the upstream, ``client`` for
                                               ``writing: ...`` / ``context canceled``)
  "reading from backend"                       ``upstream_error`` (leg server)
  "upstream roundtrip" with an error           dial/refused/no upstreams -> ``upstream_error``
                                               status 502 (504 for timeouts); ``context canceled``
                                               -> ``request_cancelled`` (the client went away)
  "upstream roundtrip" with a status           ``response_headers`` (leg server; text = "upstream
                                               <address>, <content type>", e.g. text/event-stream)
  "upgrading connection"                       ``ws_open`` (status 101)
  "stream timed out"                           ``proxy_timeout`` (Caddy ``stream_timeout``)
  an abort or streaming error with Go's        also ``proxy_timeout`` (timer = ``Caddy reverse_proxy
  "i/o timeout"                                transport read_timeout`` reading from the upstream,
                                               ``Caddy server write_timeout`` writing to the browser)
  "streaming error"                            ``proxy_abort`` (text = error; "hijacked connection
                                               copy complete" is a normal end and skipped)
``http.log.error*`` status >= 500              ``upstream_error`` (status; deduplicated against the
                                               roundtrip line of the same request)
``admin.api`` "received request" POST/PUT/     ``proxy_reload`` (a config change was requested)
  PATCH/DELETE on /load, /config, /id
``admin.api`` "load complete"                  ``proxy_reload``
``http`` "servers shutting down..."            ``proxy_reload`` (old servers stop: upgraded streams
                                               get 1001 unless stream_close_delay)
(no logger) "shutting down apps, then          ``proxy_reload`` (Caddy is stopping)
  terminating"
============================================  ==================================================

"config is unchanged" is not a reload (nothing restarts) and is kept only in ``meta``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tearline.analysis.evidence.jsonshape import obj, text
from tearline.analysis.evidence.observation import Observation, SourceRecord
from tearline.analysis.evidence.sourcefile import guarded, open_text

from tearline.errors import InputError

__all__ = ["RULES", "load_caddy_log", "parse_ts"]

_CONFIG_URIS = ("/load", "/config", "/id/")


def parse_ts(value: Any) -> float | None:
    """Caddy ``ts`` as epoch seconds: a number (s, ms or us by magnitude) or a time string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        v = float(value)
        if v > 1e17:
            return v / 1e9
        if v > 1e14:
            return v / 1e6
        if v > 1e11:
            return v / 1e3
        return v if v > 0 else None
    if isinstance(value, str) and value:
        try:
            return parse_ts(float(value))
        except ValueError:
            pass
        try:
            dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            dt = None
            for fmt in ("%Y/%m/%d %H:%M:%S.%f", "%Y/%m/%d %H:%M:%S"):
                try:
                    dt = datetime.strptime(value, fmt)
                    break
                except ValueError:
                    continue
        if dt is None:
            return None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        return dt.timestamp()
    return None


def _request(d: dict[str, Any]) -> dict[str, Any]:
    r = d.get("request")
    return obj(r)


def _url(d: dict[str, Any]) -> str | None:
    r = _request(d)
    host, uri = r.get("host"), r.get("uri")
    if not isinstance(uri, str):
        return None
    scheme = "https" if r.get("tls") else "http"
    if isinstance(host, str) and host:
        return f"{scheme}://{host}{uri}"
    return uri


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


class _Ctx:
    def __init__(self, rec: SourceRecord) -> None:
        self.rec = rec
        self.last_upstream_error: dict[str, float] = {}  # url -> t

    def add(self, kind: str, t: float, where: str, d: dict[str, Any], **fields: Any) -> None:
        fields.setdefault("url", _url(d))
        fields = {k: v for k, v in fields.items() if v is not None}
        self.rec.observations.append(Observation(source="caddy", kind=kind, t=t, where=where, **fields))

    def upstream_error(self, t: float, where: str, d: dict[str, Any], text: str, status: int | None) -> None:
        url = _url(d) or ""
        prev = self.last_upstream_error.get(url)
        if prev is not None and abs(prev - t) < 0.5:
            return
        self.last_upstream_error[url] = t
        self.add("upstream_error", t, where, d, text=text, status=status, leg="server")


def _access(c: _Ctx, t: float, where: str, d: dict[str, Any]) -> None:
    r = _request(d)
    status = d.get("status")
    duration = _num(d.get("duration"))
    size = d.get("size")
    c.add(
        "access",
        t,
        where,
        d,
        status=int(status) if isinstance(status, int) else None,
        size=int(size) if isinstance(size, int) else None,
        duration=duration,
        text=f"{r.get('method', '')} {r.get('proto', '')}".strip() or None,
        leg="client",
    )


def deadline_timer(err: str) -> str | None:
    """The Caddy timer whose deadline an error names (Go's "i/o timeout"), None when it names none.

    Reading from the upstream timed out: the reverse_proxy transport's ``read_timeout``; writing
    toward the browser timed out: the server's ``write_timeout``."""
    low = err.lower()
    if "i/o timeout" not in low and "deadline exceeded" not in low:
        return None
    if low.startswith("writing"):
        return "Caddy server write_timeout"
    if low.startswith("reading") or "read tcp" in low:
        return "Caddy reverse_proxy transport read_timeout"
    return None


def _timed_out(c: _Ctx, t: float, where: str, d: dict[str, Any], err: str) -> None:
    timer = deadline_timer(err)
    if timer is not None:
        c.add("proxy_timeout", t, where, d, text=f"{timer} fired: {err}", timer=timer, error_class="timeout")


def _abort(c: _Ctx, t: float, where: str, d: dict[str, Any]) -> None:
    err = str(d.get("error", ""))
    client_side = err.startswith("writing") or "context canceled" in err or "broken pipe" in err
    c.add(
        "proxy_abort",
        t,
        where,
        d,
        text=f"aborting with incomplete response: {err}",
        leg="client" if client_side else "server",
    )
    _timed_out(c, t, where, d, err)


def _reading_from_backend(c: _Ctx, t: float, where: str, d: dict[str, Any]) -> None:
    c.upstream_error(t, where, d, f"reading from backend: {d.get('error', '')}", None)


def _roundtrip(c: _Ctx, t: float, where: str, d: dict[str, Any]) -> None:
    err = d.get("error")
    if isinstance(err, str) and err:
        low = err.lower()
        if "context canceled" in low or "operation was canceled" in low:
            c.add("request_cancelled", t, where, d, text=f"client went away: {err}", leg="client")
        else:
            c.upstream_error(
                t,
                where,
                d,
                f"upstream roundtrip: {err}",
                504 if "timeout" in low or "deadline" in low else 502,
            )
        return
    upstream_status = d.get("status")
    if isinstance(upstream_status, int):
        c.add(
            "response_headers",
            t,
            where,
            d,
            status=upstream_status,
            leg="server",
            text=f"upstream {d.get('upstream', '')}" + (f", {media}" if (media := _content_type(d)) else ""),
        )


def _content_type(d: dict[str, Any]) -> str | None:
    """The media type of an "upstream roundtrip" line's response ``headers`` (lower case, no parameters)."""
    for name, values in obj(d.get("headers")).items():
        if str(name).lower() == "content-type":
            first = text(values[0] if isinstance(values, list) and values else values)
            media = first.split(";", 1)[0].strip().lower() if first else ""
            return media or None
    return None


def _upgrading(c: _Ctx, t: float, where: str, d: dict[str, Any]) -> None:
    c.add("ws_open", t, where, d, status=101, leg="client", text="caddy upgraded the connection")


def _stream_timeout(c: _Ctx, t: float, where: str, d: dict[str, Any]) -> None:
    c.add(
        "proxy_timeout",
        t,
        where,
        d,
        text="Caddy reverse_proxy stream_timeout fired (stream timed out)",
        timer="Caddy reverse_proxy stream_timeout",
        error_class="timeout",
    )


def _streaming_error(c: _Ctx, t: float, where: str, d: dict[str, Any]) -> None:
    err = str(d.get("error", ""))
    if "copy complete" in err:
        return  # "hijacked connection copy complete": Caddy's note that one direction ended normally
    c.add("proxy_abort", t, where, d, text=f"streaming error: {err}")
    _timed_out(c, t, where, d, err)


def _error_log(c: _Ctx, t: float, where: str, d: dict[str, Any]) -> None:
    status = d.get("status")
    if isinstance(status, int) and status >= 500:
        c.upstream_error(t, where, d, str(d.get("msg", "")), status)


def _admin_request(c: _Ctx, t: float, where: str, d: dict[str, Any]) -> None:
    method, uri = d.get("method"), d.get("uri")
    if method in ("POST", "PUT", "PATCH", "DELETE") and isinstance(uri, str) and uri.startswith(_CONFIG_URIS):
        c.add("proxy_reload", t, where, d, url=None, text=f"config change requested: {method} {uri}")


def _reload(text: str) -> Callable[[_Ctx, float, str, dict[str, Any]], None]:
    def handler(c: _Ctx, t: float, where: str, d: dict[str, Any]) -> None:
        signal = d.get("signal")
        c.add("proxy_reload", t, where, d, url=None, text=text + (f" ({signal})" if signal else ""))

    return handler


# (logger prefix, msg or None for any) -> handler; first match wins.
RULES: tuple[tuple[str, str | None, Callable[[_Ctx, float, str, dict[str, Any]], None]], ...] = (
    ("http.log.access", "handled request", _access),
    ("http.log.error", None, _error_log),
    ("http.handlers.reverse_proxy", "aborting with incomplete response", _abort),
    ("http.handlers.reverse_proxy", "reading from backend", _reading_from_backend),
    ("http.handlers.reverse_proxy", "upstream roundtrip", _roundtrip),
    ("http.handlers.reverse_proxy", "upgrading connection", _upgrading),
    ("http.handlers.reverse_proxy", "stream timed out", _stream_timeout),
    ("http.handlers.reverse_proxy", "streaming error", _streaming_error),
    ("admin.api", "received request", _admin_request),
    ("admin.api", "load complete", _reload("config loaded")),
    ("http", "servers shutting down with eternal grace period", _reload("old servers stopping")),
    ("http", "servers shutting down", _reload("old servers stopping")),
    ("", "shutting down apps, then terminating", _reload("caddy stopping")),
)


def _rule(logger: str, msg: str) -> Callable[[_Ctx, float, str, dict[str, Any]], None] | None:
    for prefix, rule_msg, handler in RULES:
        if rule_msg is not None and rule_msg != msg:
            continue
        if prefix == "" and logger == "":
            return handler
        if prefix and (logger == prefix or logger.startswith(prefix + ".")):
            return handler
    return None


@guarded("Caddy JSON log")
def load_caddy_log(path: str | os.PathLike[str], *, flag: str | None = "--caddy-log") -> SourceRecord:
    """Read a Caddy JSON log into a ``SourceRecord``. Raises ``InputError`` when it is not one."""
    p = Path(path)
    rec = SourceRecord(name="caddy", path=str(p), clock="caddy ts")
    ctx = _Ctx(rec)
    caddy_lines = non_json = bad_ts = unchanged = 0
    first_bad: int | None = None
    with open_text(p, flag=flag) as fh:
        for n, raw in enumerate(fh, start=1):
            line = raw.strip()
            if not line:
                continue
            try:
                d = json.loads(line)
            except json.JSONDecodeError:
                d = None
            if not isinstance(d, dict) or not isinstance(d.get("msg"), str) or "ts" not in d:
                non_json += 1
                first_bad = first_bad or n
                continue
            caddy_lines += 1
            t = parse_ts(d.get("ts"))
            if t is None:
                bad_ts += 1
                continue
            logger = text(d.get("logger")) or ""
            msg = d["msg"]
            if msg == "config is unchanged":
                unchanged += 1
                continue
            handler = _rule(logger, msg)
            if handler is not None:
                handler(ctx, t, f"line {n}", d)
    if caddy_lines == 0:
        raise InputError(
            'no Caddy JSON log line (objects with "ts" and "msg")',
            path=p,
            hint='pass a Caddy log written with "format json" to --caddy-log',
        )
    if non_json:
        rec.warnings.append(
            f"{p}: {non_json} line(s) that are not Caddy JSON skipped (first: line {first_bad})"
        )
    if bad_ts:
        rec.warnings.append(f"{p}: {bad_ts} line(s) with an unreadable ts skipped")
    rec.meta = {"lines": caddy_lines, "config_unchanged": unchanged}
    rec.observations.sort(key=lambda o: o.t)
    return rec
