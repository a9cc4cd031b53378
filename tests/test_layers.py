"""The layers hold: import-linter's contracts (pyproject.toml) on the package as it installs.

setup.py installs ``addons/`` and ``analysis/`` as ``tearline.addons`` and ``tearline.analysis``. import-linter
reads a package from its folder, so the check runs on a staged copy laid out as the wheel lays it out
(``tearline/``, ``tearline/addons/``, ``tearline/analysis/``: tools/stage_package.py). ``make lint`` runs
this file too; ``make types`` runs mypy on the same staged copy (``test_types`` here).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
EDGES = ("addons", "analysis")


def _load_stage():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("stage_package", ROOT / "tools" / "stage_package.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.stage


stage = _load_stage()


def lint_imports(staged: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(staged)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", str(ROOT / "pyproject.toml")],
        cwd=staged,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def layer_modules() -> set[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    layers = next(c for c in contracts if c["type"] == "layers")["layers"]
    names: set[str] = set()
    for layer in layers:
        for part in layer.replace("|", ":").split(":"):
            names.add(part.strip().strip("()"))
    return names


@pytest.fixture
def staged(tmp_path: Path) -> Path:
    """The staged ``tearline`` package folder."""
    return stage(tmp_path)


def test_contracts_are_kept(tmp_path: Path, staged: Path) -> None:
    result = lint_imports(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_core_module_importing_an_edge_breaks_the_contract(tmp_path: Path, staged: Path) -> None:
    events = staged / "events.py"
    events.write_text(events.read_text(encoding="utf-8") + "\nimport tearline.analysis  # noqa\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert "application > edges > core BROKEN" in result.stdout


def test_the_analysis_importing_mitmproxy_breaks_the_contract(tmp_path: Path, staged: Path) -> None:
    init = staged / "analysis" / "__init__.py"
    init.write_text(init.read_text(encoding="utf-8") + "\nimport mitmproxy  # noqa\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert "only the addons import mitmproxy BROKEN" in result.stdout


def test_every_module_of_tearline_is_in_a_layer() -> None:
    """A new module at tearline's top level must be placed in a layer, or the contract does not see it."""
    placed = layer_modules()
    present = {
        f"tearline.{p.stem if p.is_file() else p.name}"
        for p in (ROOT / "tearline").iterdir()
        if (p.suffix == ".py" and p.stem != "__init__") or (p.is_dir() and (p / "__init__.py").exists())
    } | {f"tearline.{edge}" for edge in EDGES}
    missing = sorted(present - placed)
    assert not missing, f"place these in a layer in pyproject.toml [tool.importlinter]: {missing}"


@pytest.mark.slow
def test_types(tmp_path: Path, staged: Path) -> None:
    """mypy, as configured in pyproject.toml, is clean on the package as it installs (``make types``)."""
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"), "-p", "tearline"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
