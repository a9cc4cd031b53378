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
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Mapping
from typing import Any

from tearline.errors import UsageError
from tearline.faults.scenario import parse_fault
from tearline.runs.apps import APPS
from tearline.runs.model import (
    DEFAULT_STEP_TIMEOUT_MS,
    LEGS,
    STEP_ACTIONS,
    BrowserSpec,
    Expect,
    LegFault,
    RunFile,
    Step,
    StreamExpect,
    Target,
)

__all__ = ["coerce_var", "parse_run_text"]

_STEP_EXTRA = {"timeout": "int", "into": "str"}
_WAIT_KINDS = ("console", "selector", "messages")
_TOP = ("name", "description", "vars", "target", "browser", "step", "fault", "expect")
_VAR = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _close(word: object, allowed: list[str] | tuple[str, ...]) -> str:
    if isinstance(word, str):
        m = difflib.get_close_matches(word, list(allowed), n=1)
        if m:
            return f"did you mean {m[0]!r}? "
    return ""


def coerce_var(raw: str, default: Any, *, source: str, name: str) -> Any:
    """An override given as text (``--var``/``--vary``), in the type of the variable's default."""
    try:
        if isinstance(default, bool):
            if raw.lower() not in ("true", "false"):
                raise ValueError
            return raw.lower() == "true"
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
    except ValueError:
        raise UsageError(
            f"value {raw!r} is not {type(default).__name__} like the default {default!r}",
            path=source,
            place=f"vars, key {name!r}",
            hint="give a value of the same type",
        ) from None
    return raw


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _substitute(node: Any, variables: Mapping[str, Any], source: str, where: str) -> Any:
    if isinstance(node, dict):
        return {k: _substitute(v, variables, source, f"{where}.{k}" if where else k) for k, v in node.items()}
    if isinstance(node, list):
        return [_substitute(v, variables, source, f"{where}[{i + 1}]") for i, v in enumerate(node)]
    if not isinstance(node, str):
        return node
    whole = _VAR.fullmatch(node)
    if whole and whole.group(1) and whole.group(1) in variables:
        return variables[whole.group(1)]

    def one(m: re.Match[str]) -> str:
        if m.group(0) == "{{":
            return "{"
        if m.group(0) == "}}":
            return "}"
        name = m.group(1)
        if name not in variables:
            raise UsageError(
                f"uses {{{name}}} but [vars] has no {name!r}",
                path=source,
                place=f"key {where!r}",
                hint=_close(name, list(variables))
                + f"add {name} = ... to [vars], or write {{{{ }}}} for braces",
            )
        return _text(variables[name])

    return _VAR.sub(one, node)


def _err(source: str, place: str, message: str, hint: str | None = None) -> UsageError:
    return UsageError(message, path=source, place=place, hint=hint)


def _check_keys(table: Mapping[str, Any], allowed: tuple[str, ...], source: str, place: str) -> None:
    for key in table:
        if key not in allowed:
            raise _err(
                source,
                f"{place}, key {key!r}",
                "is not a known key",
                _close(key, allowed) + "known: " + ", ".join(allowed),
            )


def _typed(value: Any, kind: type | tuple[type, ...], source: str, place: str, what: str) -> Any:
    if not isinstance(value, kind) or (isinstance(value, bool) and kind in (int, float, (int, float))):
        raise _err(source, place, f"must be {what}, not {type(value).__name__} {value!r}")
    return value


def _vars(doc: Mapping[str, Any], overrides: Mapping[str, str], source: str) -> dict[str, Any]:
    raw = doc.get("vars", {})
    if not isinstance(raw, dict):
        raise _err(source, "vars", "must be a table", "write [vars] then name = value lines")
    out: dict[str, Any] = {}
    for name, value in raw.items():
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise _err(
                source, f"vars, key {name!r}", "is not a valid variable name", "use letters, digits and _"
            )
        if not isinstance(value, str | int | float | bool):
            raise _err(source, f"vars, key {name!r}", "must be a string, number or boolean")
        out[name] = value
    for name, text in overrides.items():
        if name not in out:
            raise _err(
                source,
                f"vars, key {name!r}",
                "is given on the command line but the run file has no such variable",
                _close(name, list(out)) + "declare it in [vars] with a default",
            )
        out[name] = coerce_var(text, out[name], source=source, name=name)
    return out


def _target(raw: Any, source: str) -> Target:
    if not isinstance(raw, dict):
        raise _err(
            source, "target", "is missing", 'add [target] with app = "incident" or url = "https://..."'
        )
    keys = ("app", "url", "upstream", "path", "caddyfile", "backend_log", "tls", "options")
    _check_keys(raw, keys, source, "target")
    app, url = raw.get("app"), raw.get("url")
    if (app is None) == (url is None):
        raise _err(source, "target", "needs exactly one of 'app' and 'url'", 'e.g. app = "incident"')
    strs = {k: _typed(raw[k], str, source, f"target, key {k!r}", "a string") for k in keys[:6] if k in raw}
    tls = _typed(raw.get("tls", False), bool, source, "target, key 'tls'", "true or false")
    options = raw.get("options", {})
    _typed(options, dict, source, "target, key 'options'", "a table")
    if app is not None:
        if app not in APPS:
            raise _err(
                source,
                "target, key 'app'",
                f"unknown app {app!r}",
                _close(app, list(APPS)) + "known: " + ", ".join(APPS),
            )
        for k in ("upstream", "caddyfile", "backend_log"):
            if k in raw:
                raise _err(source, f"target, key {k!r}", "only applies to url = targets", "remove it")
        allowed = APPS[app].options
        merged = dict(allowed)
        for k, v in options.items():
            place = f"target.options, key {k!r}"
            if k not in allowed:
                raise _err(
                    source,
                    place,
                    f"is not an option of app {app!r}",
                    _close(k, list(allowed)) + "known: " + ", ".join(allowed),
                )
            d = allowed[k]
            kind: type | tuple[type, ...] = (int, float) if isinstance(d, float) else type(d)
            merged[k] = _typed(v, kind, source, place, f"{type(d).__name__} like {d!r}")
        path = strs.get("path", APPS[app].default_path)
        if not path.startswith("/"):
            raise _err(source, "target, key 'path'", f"must start with '/', not {path!r}", "e.g. /chat.html")
        return Target(app=app, path=path, tls=tls, options=merged)
    assert url is not None
    if not re.match(r"https?://[^/]+", url):
        raise _err(
            source,
            "target, key 'url'",
            f"is not an http(s) URL: {url!r}",
            "e.g. https://app.localhost:8443/chat",
        )
    if options or "path" in raw or "tls" in raw:
        bad = "options" if options else ("path" if "path" in raw else "tls")
        raise _err(source, f"target, key {bad!r}", "only applies to app = targets", "put the page in url =")
    upstream = strs.get("upstream")
    if upstream is None and "caddyfile" not in strs:
        raise _err(
            source,
            "target",
            "url = needs upstream = (what the tap forwards to) or caddyfile =",
            'e.g. upstream = "https://127.0.0.1:8443"',
        )
    if upstream is not None and not re.fullmatch(r"https?://[^/]+", upstream):
        raise _err(
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
    _typed(raw, dict, source, "browser", "a table")
    _check_keys(raw, ("headless", "args", "ignore_https_errors", "viewport"), source, "browser")
    args = raw.get("args", [])
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise _err(source, "browser, key 'args'", "must be a list of strings", 'e.g. ["--lang=en"]')
    viewport = raw.get("viewport")
    size: tuple[int, int] | None = None
    if viewport is not None:
        if not (
            isinstance(viewport, dict)
            and set(viewport) == {"width", "height"}
            and all(isinstance(v, int) and v > 0 for v in viewport.values())
        ):
            raise _err(
                source,
                "browser, key 'viewport'",
                "must be {width = N, height = N}",
                "e.g. { width = 1280, height = 800 }",
            )
        size = (viewport["width"], viewport["height"])
    return BrowserSpec(
        headless=_typed(raw.get("headless", True), bool, source, "browser, key 'headless'", "true or false"),
        args=tuple(args),
        ignore_https_errors=_typed(
            raw.get("ignore_https_errors", True),
            bool,
            source,
            "browser, key 'ignore_https_errors'",
            "true or false",
        ),
        viewport=size,
    )


def _step(raw: Any, number: int, source: str) -> Step:
    place = f"step {number}"
    if not isinstance(raw, dict):
        raise _err(source, place, "must be a table", 'write [[step]] then one action, e.g. click = "#away"')
    actions = [k for k in raw if k in STEP_ACTIONS]
    others = [k for k in raw if k not in STEP_ACTIONS and k not in _STEP_EXTRA and k != "url"]
    if others:
        allowed = (*STEP_ACTIONS, *_STEP_EXTRA, "url")
        raise _err(
            source,
            f"{place}, key {others[0]!r}",
            "is not a step action or option",
            _close(others[0], allowed) + "actions: " + ", ".join(STEP_ACTIONS),
        )
    if len(actions) != 1:
        raise _err(
            source,
            place,
            f"needs exactly one action, has {len(actions)}" + (f" ({', '.join(actions)})" if actions else ""),
            "actions: " + ", ".join(STEP_ACTIONS),
        )
    action = actions[0]
    value = raw[action]
    kind = STEP_ACTIONS[action][0]
    key_place = f"{place}, key {action!r}"
    timeout = raw.get("timeout", DEFAULT_STEP_TIMEOUT_MS)
    if not isinstance(timeout, int) or isinstance(timeout, bool) or timeout <= 0:
        raise _err(source, f"{place}, key 'timeout'", f"must be a positive number of ms, not {timeout!r}")
    into = raw.get("into")
    if (into is not None) != (action == "type"):
        raise _err(
            source,
            f"{place}, key 'into'",
            "goes with type = (and type needs it)",
            'e.g. type = "hello", into = "#question"',
        )
    if into is not None and not isinstance(into, str):
        raise _err(source, f"{place}, key 'into'", "must be a selector string")
    if "url" in raw:
        raise _err(source, f"{place}, key 'url'", 'belongs inside wait = { messages = N, url = "..." }')
    if kind == "str":
        _typed(value, str, source, key_place, "a string")
        return Step(number=number, action=action, value=value, timeout_ms=timeout, into=into)
    if kind == "true":
        if value is not True:
            raise _err(source, key_place, f"must be true, not {value!r}", f"write {action} = true")
        return Step(number=number, action=action, value=True, timeout_ms=timeout)
    # wait
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise _err(source, key_place, f"must be >= 0 ms, not {value}")
        return Step(number=number, action="wait_ms", value=value, timeout_ms=max(timeout, value + 5000))
    if not isinstance(value, dict):
        raise _err(
            source,
            key_place,
            f"must be ms or a table, not {value!r}",
            'e.g. wait = 500 or wait = { console = "done" }',
        )
    kinds = [k for k in value if k in _WAIT_KINDS]
    extra = [k for k in value if k not in (*_WAIT_KINDS, "url")]
    if extra or len(kinds) != 1:
        raise _err(
            source,
            key_place,
            "needs exactly one of console, selector, messages",
            'e.g. wait = { messages = 5, url = "/agent" }',
        )
    what = kinds[0]
    arg = value[what]
    if what == "messages":
        if not isinstance(arg, int) or isinstance(arg, bool) or arg < 1:
            raise _err(source, key_place, f"messages must be a positive integer, not {arg!r}")
        url = value.get("url", "")
        _typed(url, str, source, key_place, "a table whose url is a string")
        return Step(number=number, action="wait_messages", value=arg, url=url, timeout_ms=timeout)
    if "url" in value:
        raise _err(source, key_place, "url only goes with messages =")
    if what == "console" and isinstance(arg, list) and arg and all(isinstance(a, str) for a in arg):
        return Step(number=number, action="wait_console", value=tuple(arg), timeout_ms=timeout)
    _typed(
        arg,
        str,
        source,
        key_place,
        f"a table whose {what} is a string" + (" (or a list of them)" if what == "console" else ""),
    )
    return Step(number=number, action=f"wait_{what}", value=arg, timeout_ms=timeout)


def _faults(raw: Any, source: str) -> tuple[LegFault, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(t, dict) for t in raw):
        raise _err(source, "fault", "must be [[fault]] tables")
    out = []
    for i, table in enumerate(raw, 1):
        table = dict(table)
        leg = table.pop("leg", "browser")
        if leg not in LEGS:
            raise _err(
                source,
                f"fault {i}, key 'leg'",
                f"unknown leg {leg!r}",
                _close(leg, LEGS) + "use browser or backend",
            )
        spec = parse_fault(table, source=source, number=i, fault_id=f"{source.rsplit('/', 1)[-1]}#{i}")
        out.append(LegFault(leg=leg, spec=spec, table=table))
    return tuple(out)


def _expect(raw: Any, source: str) -> Expect:
    if raw is None:
        return Expect()
    _typed(raw, dict, source, "expect", "a table")
    _check_keys(raw, ("error_page", "stream"), source, "expect")
    error_page = raw.get("error_page")
    if error_page is not None:
        _typed(error_page, bool, source, "expect, key 'error_page'", "true or false")
    streams = []
    for i, s in enumerate(raw.get("stream", []), 1):
        place = f"expect.stream {i}"
        _typed(s, dict, source, place, "a table")
        _check_keys(s, ("url", "cause", "which"), source, place)
        url = _typed(s.get("url", ""), str, source, f"{place}, key 'url'", "a string")
        which = _typed(s.get("which", "every"), str, source, f"{place}, key 'which'", '"every" or "some"')
        if which not in ("every", "some"):
            raise _err(source, f"{place}, key 'which'", f"unknown value {which!r}", 'use "every" or "some"')
        causes = s.get("cause")
        causes = [causes] if isinstance(causes, str) else causes
        if not causes or not isinstance(causes, list) or not all(isinstance(c, str) for c in causes):
            raise _err(
                source,
                f"{place}, key 'cause'",
                "must be a cause kind or a list of them",
                'e.g. cause = ["client_navigation"]',
            )
        known = _cause_kinds()
        for c in causes:
            if known and c not in known:
                raise _err(
                    source,
                    f"{place}, key 'cause'",
                    f"unknown cause kind {c!r}",
                    _close(c, known) + "see tearline diagnose --help",
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
            raise _err(
                source,
                f"key {key!r}",
                "is not a run-file key",
                _close(key, _TOP) + "known: " + ", ".join(_TOP),
            )
    variables = _vars(doc, overrides or {}, source)
    body = _substitute({k: v for k, v in doc.items() if k != "vars"}, variables, source, "")
    steps_raw = body.get("step")
    if not isinstance(steps_raw, list) or not steps_raw:
        raise _err(source, "step", "has no [[step]] tables", "add at least one, e.g. [[step]] wait = 1000")
    name = body.get("name", source.rsplit("/", 1)[-1].removesuffix(".toml"))
    return RunFile(
        source=source,
        name=_typed(name, str, source, "key 'name'", "a string"),
        description=_typed(body.get("description", ""), str, source, "key 'description'", "a string"),
        vars=variables,
        target=_target(body.get("target"), source),
        browser=_browser(body.get("browser"), source),
        steps=tuple(_step(s, i, source) for i, s in enumerate(steps_raw, 1)),
        faults=_faults(body.get("fault"), source),
        expect=_expect(body.get("expect"), source),
    )
