"""What a test module of the real CopilotKit stack declares: its marks, and the parts it needs.

``make test`` installs every part (the ``app`` extra, Node.js and npm, Chromium), so on CI these
tests run; on a machine without them a module says which part is missing instead of erroring.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tearline.lab.browser import CHROMIUM

REAL_APP_MARKS = [
    pytest.mark.real_app,
    pytest.mark.browser,
    pytest.mark.caddy,
    pytest.mark.slow,
    pytest.mark.timeout(900),
]


def require_real_app() -> None:
    """Skip the calling module unless the agent's packages, npm and Chromium are installed."""
    pytest.importorskip("ag_ui_langgraph")
    if shutil.which("npm") is None or not Path(CHROMIUM).exists():
        pytest.skip("the real app needs Node.js/npm and Chromium", allow_module_level=True)
