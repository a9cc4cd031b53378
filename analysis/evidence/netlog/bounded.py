"""Chrome's bounded-mode NetLog (``--net-log-max-size-mb``), for the reader in ``reader.py``.

In bounded mode Chrome keeps the log in a temporary ``.inprogress`` directory (``constants.json``,
``event_file_*.json``, ``end_netlog.json``) and stitches it into the named file only when logging
stops; until then (or for good, if Chrome was killed) the named file holds a one-line note saying
where the data is. ``open_netlog`` opens a NetLog as one text stream: the file itself, or the
directory's parts chained in order.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
from pathlib import Path
from typing import IO, cast

from tearline.analysis.evidence.sourcefile import open_text

from tearline.errors import InputError

__all__ = ["PLACEHOLDER", "open_netlog"]

PLACEHOLDER = "Logging is in progress writing data to:"


class _Chain(io.TextIOBase):
    """Several text files read as one (for ``_Buffer``: only ``read(n)`` and context management)."""

    def __init__(self, parts: list[Path], flag: str | None) -> None:
        self.parts = parts
        self.flag = flag
        self.current: IO[str] | None = None

    def read(self, size: int | None = -1) -> str:
        while self.parts or self.current is not None:
            if self.current is None:
                self.current = open_text(self.parts.pop(0), flag=self.flag)
            chunk = self.current.read(size if size is not None else -1)
            if chunk:
                return chunk
            self.current.close()
            self.current = None
        return ""

    def close(self) -> None:
        if self.current is not None:
            with contextlib.suppress(OSError):
                self.current.close()
            self.current = None
        super().close()


def open_netlog(path: str | os.PathLike[str], flag: str | None, warnings: list[str]) -> IO[str]:
    """The NetLog as one text stream, stitching a bounded-mode ``.inprogress`` directory if needed."""
    p = Path(path)
    if p.is_dir():
        return _stitch(path, p, flag, warnings)
    fh = open_text(p, flag=flag)
    head = fh.read(512)
    if not head.startswith(PLACEHOLDER):
        fh.seek(0)
        return fh
    fh.close()
    m = re.search(r"writing data to:\s*(\S+)", head)
    where = Path(m.group(1)) if m else None
    if where is None or not (where / "constants.json").exists():
        raise InputError(
            f"Chrome never stitched this NetLog; its data was in {where or 'a temporary directory'}, "
            "which is gone",
            path=p,
            hint="re-record without --net-log-max-size-mb, or pass the .inprogress directory if you kept it",
        )
    return _stitch(path, where, flag, warnings)


def _stitch(path: str | os.PathLike[str], d: Path, flag: str | None, warnings: list[str]) -> IO[str]:
    """Chain constants.json, the event files (oldest first) and end_netlog.json of a bounded-mode log."""
    if not (d / "constants.json").exists():
        raise InputError(
            "is a directory without constants.json, not a NetLog .inprogress directory",
            path=d,
            hint="pass a NetLog file (or the .inprogress directory Chrome wrote) to --netlog",
        )
    events = sorted(d.glob("event_file_*.json"), key=lambda f: (f.stat().st_mtime_ns, f.name))
    parts = [d / "constants.json", *events]
    if (d / "end_netlog.json").exists():
        parts.append(d / "end_netlog.json")
    warnings.append(
        f"{path}: stitched from {d} ({len(events)} event file(s)); in bounded mode the oldest events "
        "may have been dropped"
    )
    return cast(IO[str], _Chain(parts, flag))
