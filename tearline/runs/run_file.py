"""Reading a run file: TOML into the frozen dataclasses of ``tearline.runs.model``, every mistake a one-line ``UsageError``.

Pure: ``parse_run_text(text, source, overrides)`` does no I/O. The format is
documented in docs/runs.md; in short::

    name = "incident-nav-away"
    [vars]              # defaults; {name} in any string below is replaced, {{ and }} are literal braces
    fix = "none"
    [target]            # app = "incident" (a bundled app) or url = "https://..." (+ upstream / caddyfile)
    app = "incident"
    path = "/chat.html?sse=finish&fix={fix}"
    [browser]           # headless, args, ignore_https_errors, viewport
    [[step]]            # one action key each, plus timeout (ms)
    wait = {console = "sse delta #5"}
    [[step]]
    click = "#away"
    [[fault]]           # as in fault scenarios, plus leg = "browser" | "backend"
    action = "abort"
    stream = "sse"
    [expect]            # error_page = false, [[expect.stream]] url = "/agent" cause = ["client_navigation"]

A string that is exactly ``"{name}"`` takes the variable's own type (so
``stream_timeout = "{timeout}"`` is a number when ``timeout`` is one).

This module reads the file's top level, ``[target]``, ``[browser]``, ``[[fault]]`` and ``[expect]``;
``[vars]`` and substitution are ``run_vars.py``, one ``[[step]]`` is ``run_steps.py``, and the one-line
errors all of them raise are ``run_errors.py``.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from typing import Any

from tearline.errors import UsageError
from tearline.faults.scenario import parse_fault
from tearline.runs.apps import APPS
from tearline.runs.model import (
    LEGS,
    BrowserSpec,
    Expect,
    LegFault,
    RunFile,
    StreamExpect,
    Target,
)
from tearline.runs.run_errors import check_keys, did_you_mean, run_error, typed
from tearline.runs.run_steps import parse_step
from tearline.runs.run_vars import read_vars, substitute

__all__ = ["parse_run_text"]

_TOP = ("name", "description", "vars", "target", "browser", "step", "fault", "expect")


def _target(raw: Any, source: str) -> Target:
    if not isinstance(raw, dict):
        raise run_error(
            source, "target", "is missing", 'add [target] with app = "incident" or url = "https://..."'
        )
    keys = ("app", "url", "upstream", "path", "caddyfile", "backend_log", "tls", "options")
    check_keys(raw, keys, source, "target")
    app, url = raw.get("app"), raw.get("url")
    if (app is None) == (url is None):
        raise run_error(source, "target", "needs exactly one of 'app' and 'url'", 'e.g. app = "incident"')
    strs = {k: typed(raw[k], str, source, f"target, key {k!r}", "a string") for k in keys[:6] if k in raw}
    tls = typed(raw.get("tls", False), bool, source, "target, key 'tls'", "true or false")
    options = raw.get("options", {})
    typed(options, dict, source, "target, key 'options'", "a table")
    if app is not None:
        if app not in APPS:
            raise run_error(
                source,
                "target, key 'app'",
                f"unknown app {app!r}",
                did_you_mean(app, list(APPS)) + "known: " + ", ".join(APPS),
            )
        for k in ("upstream", "caddyfile", "backend_log"):
            if k in raw:
                raise run_error(source, f"target, key {k!r}", "only applies to url = targets", "remove it")
        allowed = APPS[app].options
        merged = dict(allowed)
        for k, v in options.items():
            place = f"target.options, key {k!r}"
            if k not in allowed:
                raise run_error(
                    source,
                    place,
                    f"is not an option of app {app!r}",
                    did_you_mean(k, list(allowed)) + "known: " + ", ".join(allowed),
                )
            d = allowed[k]
            kind: type | tuple[type, ...] = (int, float) if isinstance(d, float) else type(d)
            merged[k] = typed(v, kind, source, place, f"{type(d).__name__} like {d!r}")
        path = strs.get("path", APPS[app].default_path)
        if not path.startswith("/"):
            raise run_error(
                source, "target, key 'path'", f"must start with '/', not {path!r}", "e.g. /chat.html"
            )
        return Target(app=app, path=path, tls=tls, options=merged)
    assert url is not None
    if not re.match(r"https?://[^/]+", url):
        raise run_error(
            source,
            "target, key 'url'",
            f"is not an http(s) URL: {url!r}",
            "e.g. https://app.localhost:8443/chat",
        )
    if options or "path" in raw or "tls" in raw:
        bad = "options" if options else ("path" if "path" in raw else "tls")
        raise run_error(
            source, f"target, key {bad!r}", "only applies to app = targets", "put the page in url ="
        )
    upstream = strs.get("upstream")
    if upstream is None and "caddyfile" not in strs:
        raise run_error(
            source,
            "target",
            "url = needs upstream = (what the tap forwards to) or caddyfile =",
            'e.g. upstream = "https://127.0.0.1:8443"',
        )
    if upstream is not None and not re.fullmatch(r"https?://[^/]+", upstream):
        raise run_error(
            source,
            "target, key 'upstream'",
            f"must be scheme://host:port, not {upstream!r}",
            'e.g. "http://127.0.0.1:8080"',
        )
    return Target(
        url=url, upstream=upstream, caddyfile=strs.get("caddyfile"), backend_log=strs.get("backend_log")
    )


def _browser(raw: Any, source: str) -> BrowserSpec:
    raw = raw if raw is not None else {}
    typed(raw, dict, source, "browser", "a table")
    check_keys(raw, ("headless", "args", "ignore_https_errors", "viewport"), source, "browser")
    args = raw.get("args", [])
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise run_error(source, "browser, key 'args'", "must be a list of strings", 'e.g. ["--lang=en"]')
    viewport = raw.get("viewport")
    size: tuple[int, int] | None = None
    if viewport is not None:
        if not (
            isinstance(viewport, dict)
            and set(viewport) == {"width", "height"}
            and all(isinstance(v, int) and v > 0 for v in viewport.values())
        ):
            raise run_error(
                source,
                "browser, key 'viewport'",
                "must be {width = N, height = N}",
                "e.g. { width = 1280, height = 800 }",
            )
        size = (viewport["width"], viewport["height"])
    return BrowserSpec(
        headless=typed(raw.get("headless", True), bool, source, "browser, key 'headless'", "true or false"),
        args=tuple(args),
        ignore_https_errors=typed(
            raw.get("ignore_https_errors", True),
            bool,
            source,
            "browser, key 'ignore_https_errors'",
            "true or false",
        ),
        viewport=size,
    )


def _faults(raw: Any, source: str) -> tuple[LegFault, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(t, dict) for t in raw):
        raise run_error(source, "fault", "must be [[fault]] tables")
    out = []
    for i, table in enumerate(raw, 1):
        table = dict(table)
        leg = table.pop("leg", "browser")
        if leg not in LEGS:
            raise run_error(
                source,
                f"fault {i}, key 'leg'",
                f"unknown leg {leg!r}",
                did_you_mean(leg, LEGS) + "use browser or backend",
            )
        spec = parse_fault(table, source=source, number=i, fault_id=f"{source.rsplit('/', 1)[-1]}#{i}")
        out.append(LegFault(leg=leg, spec=spec, table=table))
    return tuple(out)


def _expect(raw: Any, source: str) -> Expect:
    if raw is None:
        return Expect()
    typed(raw, dict, source, "expect", "a table")
    check_keys(raw, ("error_page", "stream"), source, "expect")
    error_page = raw.get("error_page")
    if error_page is not None:
        typed(error_page, bool, source, "expect, key 'error_page'", "true or false")
    streams = []
    for i, s in enumerate(raw.get("stream", []), 1):
        place = f"expect.stream {i}"
        typed(s, dict, source, place, "a table")
        check_keys(s, ("url", "cause", "which"), source, place)
        url = typed(s.get("url", ""), str, source, f"{place}, key 'url'", "a string")
        which = typed(s.get("which", "every"), str, source, f"{place}, key 'which'", '"every" or "some"')
        if which not in ("every", "some"):
            raise run_error(
                source, f"{place}, key 'which'", f"unknown value {which!r}", 'use "every" or "some"'
            )
        causes = s.get("cause")
        causes = [causes] if isinstance(causes, str) else causes
        if not causes or not isinstance(causes, list) or not all(isinstance(c, str) for c in causes):
            raise run_error(
                source,
                f"{place}, key 'cause'",
                "must be a cause kind or a list of them",
                'e.g. cause = ["client_navigation"]',
            )
        known = _cause_kinds()
        for c in causes:
            if known and c not in known:
                raise run_error(
                    source,
                    f"{place}, key 'cause'",
                    f"unknown cause kind {c!r}",
                    did_you_mean(c, known) + "see tearline diagnose --help",
                )
        streams.append(StreamExpect(url=url, causes=tuple(causes), which=which))
    return Expect(error_page=error_page, streams=tuple(streams))


def _cause_kinds() -> tuple[str, ...]:
    try:
        from tearline.analysis.diagnose.model import CAUSE_KINDS
    except ImportError:  # the analysis side is not installed: not checked here
        return ()
    return tuple(CAUSE_KINDS)


def parse_run_text(text: str, source: str, overrides: Mapping[str, str] | None = None) -> RunFile:
    """Validate a run file's text; ``overrides`` (variable -> text) replace ``[vars]`` defaults."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise UsageError(
            f"is not valid TOML: {e}", path=source, hint="see docs/runs.md for the format"
        ) from None
    for key in doc:
        if key not in _TOP:
            raise run_error(
                source,
                f"key {key!r}",
                "is not a run-file key",
                did_you_mean(key, _TOP) + "known: " + ", ".join(_TOP),
            )
    variables = read_vars(doc, overrides or {}, source)
    body = substitute({k: v for k, v in doc.items() if k != "vars"}, variables, source, "")
    steps_raw = body.get("step")
    if not isinstance(steps_raw, list) or not steps_raw:
        raise run_error(
            source, "step", "has no [[step]] tables", "add at least one, e.g. [[step]] wait = 1000"
        )
    name = body.get("name", source.rsplit("/", 1)[-1].removesuffix(".toml"))
    return RunFile(
        source=source,
        name=typed(name, str, source, "key 'name'", "a string"),
        description=typed(body.get("description", ""), str, source, "key 'description'", "a string"),
        vars=variables,
        target=_target(body.get("target"), source),
        browser=_browser(body.get("browser"), source),
        steps=tuple(parse_step(s, i, source) for i, s in enumerate(steps_raw, 1)),
        faults=_faults(body.get("fault"), source),
        expect=_expect(body.get("expect"), source),
    )
