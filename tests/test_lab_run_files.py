"""tearline.lab.run_files: a new recording starts with fresh files; nothing the user put there goes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tearline.errors import UsageError
from tearline.lab.run_files import RUN_FILES, clear_previous_run, previous_run_files


def _fill(d: Path) -> None:
    for name in RUN_FILES:
        (d / name).write_text("old run\n")
    (d / "capture-browser.jsonl").write_text("{}\n")
    (d / "capture-backend.jsonl").write_text("{}\n")


def test_clears_every_file_a_recording_writes_and_nothing_else(tmp_path: Path) -> None:
    _fill(tmp_path)
    mine = {
        "notes.txt": "keep me",
        "capture.jsonl": "a capture of my own",  # not capture-*.jsonl
        "diagnosis.md": "my notes",
        "console.log.bak": "mine",
    }
    for name, text in mine.items():
        (tmp_path / name).write_text(text)
    for state in ("mitmproxy-conf", "caddy-data", "sub"):
        (tmp_path / state).mkdir()
        (tmp_path / state / "ca.pem").write_text("ca")
    (tmp_path / "sub" / "caddy.log").write_text("not at the top level")

    removed = clear_previous_run(tmp_path)

    assert {p.name for p in removed} == set(RUN_FILES) | {"capture-browser.jsonl", "capture-backend.jsonl"}
    assert previous_run_files(tmp_path) == []
    left = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert left == sorted(
        [*mine, "mitmproxy-conf/ca.pem", "caddy-data/ca.pem", "sub/ca.pem", "sub/caddy.log"]
    )
    assert all((tmp_path / n).read_text() == t for n, t in mine.items())


def test_a_directory_named_like_a_run_file_is_left_and_a_symlink_loses_only_itself(tmp_path: Path) -> None:
    (tmp_path / "bundle.json").mkdir()
    target = tmp_path / "elsewhere.log"
    target.write_text("the user's file")
    (tmp_path / "caddy.log").symlink_to(target)
    assert [p.name for p in clear_previous_run(tmp_path)] == ["caddy.log"]
    assert (tmp_path / "bundle.json").is_dir() and target.read_text() == "the user's file"


def test_missing_or_empty_directory_is_nothing_to_clear(tmp_path: Path) -> None:
    assert clear_previous_run(tmp_path / "new") == [] and not (tmp_path / "new").exists()
    assert clear_previous_run(tmp_path) == []


def test_a_file_that_cannot_be_removed_is_a_one_line_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "caddy.log").write_text("old")

    def refuse(self: Path, missing_ok: bool = False) -> None:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "unlink", refuse)  # the tests run as root, where chmod would not stop it
    with pytest.raises(
        UsageError, match=r"caddy\.log: cannot remove the previous run's file \(Permission denied\)"
    ) as err:
        clear_previous_run(tmp_path)
    assert "\n" not in str(err.value) and "another directory" in str(err.value)
    monkeypatch.undo()
    assert (tmp_path / "caddy.log").read_text() == "old"
