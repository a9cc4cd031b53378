"""How a run file's mistakes are told: one ``UsageError`` line naming the file, the place and the fix.

Every reader of a run file (``run_file.py``, ``run_vars.py``, ``run_steps.py``) raises through these, so
each message has the same shape: ``FILE: PLACE: what is wrong (hint)``, where PLACE is a TOML address
(``step 3, key 'wait'``, ``expect.stream 1, key 'cause'``) and the hint offers the closest known word
("did you mean 'click'?") before the list of what is allowed.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from tearline.errors import UsageError

__all__ = ["check_keys", "did_you_mean", "run_error", "typed"]


def did_you_mean(word: object, allowed: list[str] | tuple[str, ...]) -> str:
    """``"did you mean 'x'? "`` for the closest of ``allowed`` to ``word``, or ``""``."""
    if isinstance(word, str):
        m = difflib.get_close_matches(word, list(allowed), n=1)
        if m:
            return f"did you mean {m[0]!r}? "
    return ""


def run_error(source: str, place: str, message: str, hint: str | None = None) -> UsageError:
    """The error for ``message`` at ``place`` in run file ``source``."""
    return UsageError(message, path=source, place=place, hint=hint)


def check_keys(table: Mapping[str, Any], allowed: tuple[str, ...], source: str, place: str) -> None:
    """Refuse the first key of ``table`` not in ``allowed``."""
    for key in table:
        if key not in allowed:
            raise run_error(
                source,
                f"{place}, key {key!r}",
                "is not a known key",
                did_you_mean(key, allowed) + "known: " + ", ".join(allowed),
            )


def typed(value: Any, kind: type | tuple[type, ...], source: str, place: str, what: str) -> Any:
    """``value`` when it is of ``kind`` (a bool is no number), else an error saying it must be ``what``."""
    if not isinstance(value, kind) or (isinstance(value, bool) and kind in (int, float, (int, float))):
        raise run_error(source, place, f"must be {what}, not {type(value).__name__} {value!r}")
    return value
