"""Opening evidence files, and the importer guard that keeps malformed files from raising tracebacks."""

from __future__ import annotations

from pathlib import Path

import pytest
from tearline.analysis.evidence.sourcefile import guarded, open_text, read_head

from tearline.errors import InputError


def test_open_and_head(tmp_path: Path) -> None:
    p = tmp_path / "a.txt"
    p.write_bytes(b"ok \xff bytes")
    with open_text(p) as fh:
        assert fh.read() == "ok \ufffd bytes"  # undecodable bytes replaced, never fatal
    assert read_head(p, 2) == b"ok"
    with pytest.raises(InputError, match="--netlog"):
        open_text(tmp_path / "missing", flag="--netlog")
    with pytest.raises(InputError, match="directory"):
        read_head(tmp_path)


def test_guard_turns_parsing_accidents_into_one_line_input_errors(tmp_path: Path) -> None:
    @guarded("widget log")
    def load(path: Path) -> None:
        raise KeyError("line\nbreak")

    with pytest.raises(InputError) as e:
        load(tmp_path / "w.log")
    assert "\n" not in str(e.value) and "not a readable widget log" in str(e.value)

    @guarded("widget log")
    def bug(path: Path) -> None:
        raise NameError("a real bug stays visible")

    with pytest.raises(NameError):
        bug(tmp_path / "w.log")
