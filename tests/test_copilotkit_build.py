"""The CopilotKit app's build cache: keyed by the lock file, rebuilt when a source changes (no npm here)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tearline.errors import UsageError
from tearline.lab.copilotkit.build import SOURCE_DIR, app_dir, cache_root, source_hash


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    src = tmp_path / "web"
    shutil.copytree(SOURCE_DIR, src, ignore=shutil.ignore_patterns("node_modules", ".next"))
    return src


def test_the_cache_follows_tearline_cache(monkeypatch, tmp_path, sources) -> None:
    monkeypatch.setenv("TEARLINE_CACHE", str(tmp_path / "c"))
    assert cache_root() == tmp_path / "c"
    assert app_dir(sources).parent == tmp_path / "c" / "copilotkit"


def test_a_changed_source_changes_the_build_hash_but_not_the_install(monkeypatch, tmp_path, sources) -> None:
    monkeypatch.setenv("TEARLINE_CACHE", str(tmp_path / "c"))
    before, where = source_hash(sources), app_dir(sources)
    page = sources / "app" / "page.jsx"
    page.write_text(page.read_text() + "\n// changed\n")
    assert source_hash(sources) != before
    assert app_dir(sources) == where  # same lock file: npm ci is not redone


def test_a_changed_lock_file_moves_the_install(monkeypatch, tmp_path, sources) -> None:
    monkeypatch.setenv("TEARLINE_CACHE", str(tmp_path / "c"))
    where = app_dir(sources)
    lock = sources / "package-lock.json"
    lock.write_text(lock.read_text().replace('"lockfileVersion"', '"lockfileVersion" ', 1))
    assert app_dir(sources) != where


def test_no_lock_file_is_a_usage_error(sources) -> None:
    (sources / "package-lock.json").unlink()
    with pytest.raises(UsageError, match=r"package-lock\.json"):
        app_dir(sources)


def test_the_committed_sources_pin_every_version() -> None:
    import json

    package = json.loads((SOURCE_DIR / "package.json").read_text())
    assert all(v[0].isdigit() for v in package["dependencies"].values()), "pin exact versions"
    lock = json.loads((SOURCE_DIR / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/next"]["version"] == package["dependencies"]["next"]
