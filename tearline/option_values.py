"""Option values before mitmproxy sees them: typed checks and "did you mean" (pure).

mitmproxy keeps ``--set`` values and config-file entries for options no addon has
declared yet (a script's options) in ``options.deferred``, and converts them when
the script declares them. A value it cannot convert (``--set trace_flush_ms=soon``)
then raises inside the script's registration, and mitmproxy drops the whole script
without a word: the proxy runs on with tearline off. An option nobody declares
(``--set trace_fil=x``) is never looked at at all.

``addons/option_guard.py`` calls these functions on the deferred values before
tearline's addons declare their options, so each mistake becomes one line naming
the option and what it accepts.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from tearline.errors import UsageError

__all__ = ["PREFIXES", "check_value", "deferred_errors", "did_you_mean", "unknown_options"]

# Option names tearline owns: an unknown name starting with one of these is a typo.
PREFIXES = ("trace_", "fault")

# What each kind of option accepts, in words.
_ALLOWED = {
    "int": "an integer",
    "str": "a string",
    "optional_str": "a string",
    "str_list": "a string (repeat --set NAME=VALUE for more)",
}


def _raw(value: Any) -> Any:
    """mitmproxy's ``_UnconvertedStrings`` (from ``--set``) -> its list of strings."""
    return getattr(value, "val", value)


def check_value(name: str, kind: str, value: Any, allowed: str | None = None) -> Any:
    """The value mitmproxy would store for option ``name`` of ``kind``, or ``UsageError``.

    ``kind``: ``int``, ``str``, ``optional_str`` or ``str_list``. ``value`` is a deferred
    value: a list of strings from ``--set`` (mitmproxy's ``_UnconvertedStrings``) or a
    typed value from a config file (YAML)."""
    raw = _raw(value)
    strings = raw is not value
    allowed = f"{_ALLOWED[kind]}: {allowed}" if allowed else _ALLOWED[kind]
    if strings:
        values = list(raw)
        if kind == "str_list":
            return values
        if not values:
            raise UsageError(f"{name} needs a value: --set {name}=VALUE", place=f"option {name}")
        if len(values) != 1:
            raise UsageError(
                f"{name} was given {len(values)} times ({', '.join(map(repr, values))}); give it once",
                place=f"option {name}",
            )
        text = values[0]
        if kind == "int":
            try:
                return int(text.strip())
            except ValueError:
                raise UsageError(
                    f"{name}={text!r} is not valid; use {allowed}", place=f"option {name}"
                ) from None
        return text
    ok = {
        "int": isinstance(raw, int) and not isinstance(raw, bool),
        "str": isinstance(raw, str),
        "optional_str": raw is None or isinstance(raw, str),
        "str_list": isinstance(raw, list | tuple) and all(isinstance(v, str) for v in raw),
    }[kind]
    if not ok:
        raise UsageError(f"{name}={raw!r} is not valid; use {allowed}", place=f"option {name}")
    return raw


def did_you_mean(name: str, known: Iterable[str]) -> str | None:
    """The closest known option name, if one is close enough."""
    found = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    return found[0] if found else None


def unknown_options(
    given: Iterable[str], known: Iterable[str], prefixes: Sequence[str] = PREFIXES
) -> list[str]:
    """One line per option in ``given`` that starts with a tearline prefix and is not ``known``."""
    known_set = set(known)
    ours = [k for k in known_set if k.startswith(tuple(prefixes))]
    lines: list[str] = []
    for name in given:
        if name in known_set or not name.startswith(tuple(prefixes)):
            continue
        guess = did_you_mean(name, ours)
        hint = f"did you mean {guess}?" if guess else f"tearline's options are {', '.join(sorted(ours))}"
        shown = name if name.isprintable() else repr(name)
        lines.append(f"option {shown}: no such option; {hint}")
    return lines


def deferred_errors(
    deferred: Mapping[str, Any], kinds: Mapping[str, str], allowed: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Option name -> one-line error for each deferred value of ``kinds`` that would not convert.

    ``allowed``: option name -> what it accepts, in words (added to the message)."""
    errors: dict[str, str] = {}
    for name, kind in kinds.items():
        if name in deferred:
            try:
                check_value(name, kind, deferred[name], (allowed or {}).get(name))
            except UsageError as e:
                errors[name] = str(e)
    return errors
