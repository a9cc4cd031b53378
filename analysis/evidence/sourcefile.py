"""Opening an evidence file: one place that turns OS errors into one-line ``InputError``s.

Every importer reads its file through ``open_text`` (a text stream, UTF-8,
undecodable bytes replaced so that a stray byte in a 500 MB NetLog does not
lose the rest) or ``read_head`` (the first bytes, for format sniffing).
``parse_json`` turns a whole-file JSON document's syntax error into the same kind of message.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from tearline.errors import InputError, TearlineError

__all__ = ["guarded", "open_text", "parse_json", "read_head"]


def _check(path: Path, flag: str | None) -> None:
    hint = f"check the path given to {flag}" if flag else "check the path"
    if not path.exists():
        raise InputError("no such file", path=path, hint=hint)
    if path.is_dir():
        raise InputError("is a directory, not a file", path=path, hint=hint)


def open_text(path: str | os.PathLike[str], *, flag: str | None = None) -> IO[str]:
    """Open ``path`` for reading as UTF-8 text (errors replaced); raise ``InputError`` if impossible."""
    p = Path(path)
    _check(p, flag)
    try:
        return open(p, encoding="utf-8", errors="replace", newline="")
    except OSError as e:
        raise InputError(f"cannot open: {e.strerror}", path=p) from None


def parse_json(text: str, path: Path, hint: str) -> Any:
    """``text`` (a whole file) parsed as JSON; a syntax error is an ``InputError`` naming line and column."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(
            f"not valid JSON ({e.msg} at line {e.lineno}, column {e.colno})", path=path, hint=hint
        ) from None


def read_head(path: str | os.PathLike[str], size: int = 65536, *, flag: str | None = None) -> bytes:
    """The first ``size`` bytes of ``path``."""
    p = Path(path)
    _check(p, flag)
    try:
        with open(p, "rb") as fh:
            return fh.read(size)
    except OSError as e:
        raise InputError(f"cannot open: {e.strerror}", path=p) from None


_UNEXPECTED = (ValueError, TypeError, KeyError, AttributeError, IndexError, OverflowError, RecursionError)


def guarded[F: Callable[..., Any]](what: str) -> Callable[[F], F]:
    """Decorate an importer ``load_x(path, ...)``: an unexpected parsing error on a malformed file
    becomes a one-line ``InputError`` naming the file, never a traceback."""

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(path: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return fn(path, *args, **kwargs)
            except TearlineError:
                raise
            except _UNEXPECTED as e:
                detail = " ".join(str(e).split())[:200]
                raise InputError(
                    f"not a readable {what}: {type(e).__name__}: {detail}",
                    path=path,
                    hint=f"the file is malformed; if it is a real {what}, please report it as a tearline bug",
                ) from None

        return wrapper  # type: ignore[return-value]

    return decorate
