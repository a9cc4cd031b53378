"""Opening an evidence file: one place that turns OS errors into one-line ``InputError``s.

Every importer reads its file through ``open_text`` (a text stream, UTF-8,
undecodable bytes replaced so that a stray byte in a 500 MB NetLog does not
lose the rest) or ``read_head`` (the first bytes, for format sniffing).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

from tearline.errors import InputError

__all__ = ["open_text", "read_head"]


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


def read_head(path: str | os.PathLike[str], size: int = 65536, *, flag: str | None = None) -> bytes:
    """The first ``size`` bytes of ``path``."""
    p = Path(path)
    _check(p, flag)
    try:
        with open(p, "rb") as fh:
            return fh.read(size)
    except OSError as e:
        raise InputError(f"cannot open: {e.strerror}", path=p) from None
