"""Lay the source tree out as the wheel installs it: ``DIR/tearline/`` with ``addons/`` and ``analysis/`` inside.

setup.py installs the two top-level folders as ``tearline.addons`` and ``tearline.analysis``. Tools that read
a package from its folder (import-linter, mypy) see that layout only in an installed copy; this makes one
without building a wheel. ``python tools/stage_package.py DIR`` (used by ``make lint``/``make types`` and
tests/test_layers.py).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EDGES = ("addons", "analysis")
IGNORE = shutil.ignore_patterns("__pycache__", "node_modules", ".next")


def stage(into: Path) -> Path:
    """Copy the package into ``into`` as installed; return the staged ``tearline`` folder."""
    pkg = into / "tearline"
    shutil.copytree(ROOT / "tearline", pkg, ignore=IGNORE)
    for edge in EDGES:
        shutil.copytree(ROOT / edge, pkg / edge, ignore=IGNORE)
    return pkg


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tools/stage_package.py DIR")
    stage(Path(sys.argv[1]))
