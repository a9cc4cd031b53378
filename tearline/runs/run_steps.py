"""One ``[[step]]`` of a run file -> a ``Step``: exactly one action (``STEP_ACTIONS``), its value checked.

Actions take a string (``goto``, ``click``, ``type`` with ``into``, ...), ``true`` (``reload``, ...), or for
``wait`` a number of milliseconds or a table with one of ``console`` (a string or a list of them),
``selector``, or ``messages`` (a count, optionally with ``url``). ``timeout`` (ms, default
``DEFAULT_STEP_TIMEOUT_MS``) bounds any step; a plain wait gets 5 s more than it waits.
"""

from __future__ import annotations

from typing import Any

from tearline.runs.model import DEFAULT_STEP_TIMEOUT_MS, STEP_ACTIONS, Step
from tearline.runs.run_errors import did_you_mean, run_error, typed

__all__ = ["parse_step"]

_STEP_EXTRA = {"timeout": "int", "into": "str"}
_WAIT_KINDS = ("console", "selector", "messages")


def parse_step(raw: Any, number: int, source: str) -> Step:
    """Step ``number`` (1-based) of run file ``source``; a mistake is a one-line ``UsageError``."""
    place = f"step {number}"
    if not isinstance(raw, dict):
        raise run_error(
            source, place, "must be a table", 'write [[step]] then one action, e.g. click = "#away"'
        )
    actions = [k for k in raw if k in STEP_ACTIONS]
    others = [k for k in raw if k not in STEP_ACTIONS and k not in _STEP_EXTRA and k != "url"]
    if others:
        allowed = (*STEP_ACTIONS, *_STEP_EXTRA, "url")
        raise run_error(
            source,
            f"{place}, key {others[0]!r}",
            "is not a step action or option",
            did_you_mean(others[0], allowed) + "actions: " + ", ".join(STEP_ACTIONS),
        )
    if len(actions) != 1:
        raise run_error(
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
        raise run_error(
            source, f"{place}, key 'timeout'", f"must be a positive number of ms, not {timeout!r}"
        )
    into = raw.get("into")
    if (into is not None) != (action == "type"):
        raise run_error(
            source,
            f"{place}, key 'into'",
            "goes with type = (and type needs it)",
            'e.g. type = "hello", into = "#question"',
        )
    if into is not None and not isinstance(into, str):
        raise run_error(source, f"{place}, key 'into'", "must be a selector string")
    if "url" in raw:
        raise run_error(source, f"{place}, key 'url'", 'belongs inside wait = { messages = N, url = "..." }')
    if kind == "str":
        typed(value, str, source, key_place, "a string")
        return Step(number=number, action=action, value=value, timeout_ms=timeout, into=into)
    if kind == "true":
        if value is not True:
            raise run_error(source, key_place, f"must be true, not {value!r}", f"write {action} = true")
        return Step(number=number, action=action, value=True, timeout_ms=timeout)
    # wait
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise run_error(source, key_place, f"must be >= 0 ms, not {value}")
        return Step(number=number, action="wait_ms", value=value, timeout_ms=max(timeout, value + 5000))
    if not isinstance(value, dict):
        raise run_error(
            source,
            key_place,
            f"must be ms or a table, not {value!r}",
            'e.g. wait = 500 or wait = { console = "done" }',
        )
    kinds = [k for k in value if k in _WAIT_KINDS]
    extra = [k for k in value if k not in (*_WAIT_KINDS, "url")]
    if extra or len(kinds) != 1:
        raise run_error(
            source,
            key_place,
            "needs exactly one of console, selector, messages",
            'e.g. wait = { messages = 5, url = "/agent" }',
        )
    what = kinds[0]
    arg = value[what]
    if what == "messages":
        if not isinstance(arg, int) or isinstance(arg, bool) or arg < 1:
            raise run_error(source, key_place, f"messages must be a positive integer, not {arg!r}")
        url = value.get("url", "")
        typed(url, str, source, key_place, "a table whose url is a string")
        return Step(number=number, action="wait_messages", value=arg, url=url, timeout_ms=timeout)
    if "url" in value:
        raise run_error(source, key_place, "url only goes with messages =")
    if what == "console" and isinstance(arg, list) and arg and all(isinstance(a, str) for a in arg):
        return Step(number=number, action="wait_console", value=tuple(arg), timeout_ms=timeout)
    typed(
        arg,
        str,
        source,
        key_place,
        f"a table whose {what} is a string" + (" (or a list of them)" if what == "console" else ""),
    )
    return Step(number=number, action=f"wait_{what}", value=arg, timeout_ms=timeout)
