"""Compressed capture files, chosen by the file name: ``.gz`` (gzip) or ``.zst`` (Zstandard).

``open_read(path)`` and ``open_write(path)`` return binary file objects that
decompress or compress transparently, so ``out.jsonl``, ``out.jsonl.gz`` and
``out.jsonl.zst`` are read and written the same way. A writer's ``flush()`` ends a
compressed block, so a reader (or a crash) at any moment finds everything written up to
the last flush; a file cut in the middle of a block reads up to that block.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import IO, Any

__all__ = ["COMPRESSED_SUFFIXES", "TRUNCATED_ERRORS", "compression_of", "open_read", "open_write"]

COMPRESSED_SUFFIXES = {".gz": "gzip", ".zst": "zstd"}


def _zstd_errors() -> tuple[type[BaseException], ...]:
    try:
        import zstandard
    except ImportError:  # pragma: no cover - a dependency; only missing in broken installs
        return ()
    return (zstandard.ZstdError,)


# what reading a compressed file that ends early (the proxy was killed) raises
TRUNCATED_ERRORS: tuple[type[BaseException], ...] = (EOFError, gzip.BadGzipFile, *_zstd_errors())


def compression_of(path: str | os.PathLike[str]) -> str | None:
    """``"gzip"``, ``"zstd"`` or None (plain), from the file name's last suffix."""
    return COMPRESSED_SUFFIXES.get(Path(path).suffix.lower())


def open_read(path: str | os.PathLike[str]) -> IO[bytes]:
    """A binary reader of the (decompressed) content. Raises ``OSError`` like ``open``."""
    kind = compression_of(path)
    if kind == "gzip":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    if kind == "zstd":
        import zstandard

        fh = open(path, "rb")  # noqa: SIM115
        reader: Any = zstandard.ZstdDecompressor().stream_reader(fh, read_across_frames=True, closefd=True)
        import io

        return io.BufferedReader(reader, buffer_size=1 << 20)
    return open(path, "rb")


def open_write(path: str | os.PathLike[str]) -> IO[bytes]:
    """A binary writer that compresses by the file name; ``flush()`` ends a block."""
    kind = compression_of(path)
    if kind == "gzip":
        return gzip.open(path, "wb", compresslevel=6)  # type: ignore[return-value]
    if kind == "zstd":
        import zstandard

        fh = open(path, "wb")  # noqa: SIM115
        writer: Any = zstandard.ZstdCompressor(level=3).stream_writer(fh, closefd=True)
        return writer  # type: ignore[no-any-return]
    return open(path, "wb")
