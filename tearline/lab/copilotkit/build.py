"""Install and build the CopilotKit front end once, in a cache, and reuse it until its sources change.

::

    python -m tearline.lab.copilotkit.build      # npm ci + next build if needed; prints the app directory

The sources live in ``tearline/lab/copilotkit/web/`` (``package.json``, the committed ``package-lock.json``,
``next.config.mjs``, ``app/``, ``localhost-resolve.cjs``). They are copied into a cache directory keyed by
the lock file's hash (``<cache>/copilotkit/app-<lock hash>/``), where ``npm ci`` runs once; ``next build``
runs there whenever the hash of the sources differs from the one in the stamp file ``.tearline-build``.
So a second checkout of the same lock file on the same machine (CI's fresh clone) reuses both.

``<cache>`` is ``$TEARLINE_CACHE``, else ``$XDG_CACHE_HOME/tearline``, else ``~/.cache/tearline``.
A file lock serialises concurrent builds. Telemetry (Next.js, CopilotKit, Scarf) is off for every step.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from tearline.errors import UsageError

__all__ = ["SOURCE_DIR", "TELEMETRY_OFF", "app_dir", "cache_root", "ensure_app", "source_hash"]

SOURCE_DIR = Path(__file__).parent / "web"
_SOURCES = ("package.json", "package-lock.json", "next.config.mjs", "localhost-resolve.cjs", "app")
_STAMP = ".tearline-build"
_NPM_STAMP = ".tearline-npm-ci"

TELEMETRY_OFF = {
    "NEXT_TELEMETRY_DISABLED": "1",
    "COPILOTKIT_TELEMETRY_DISABLED": "true",
    "SCARF_ANALYTICS": "false",
    "DO_NOT_TRACK": "1",
}


def cache_root() -> Path:
    if os.environ.get("TEARLINE_CACHE"):
        return Path(os.environ["TEARLINE_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tearline"


def _files(src: Path) -> Iterator[Path]:
    for name in _SOURCES:
        path = src / name
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file())
        elif path.exists():
            yield path


def source_hash(src: Path = SOURCE_DIR) -> str:
    """SHA-256 over the sources' relative paths and contents (what a build depends on)."""
    h = hashlib.sha256()
    for path in _files(src):
        h.update(str(path.relative_to(src)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def _lock_hash(src: Path) -> str:
    lock = src / "package-lock.json"
    if not lock.exists():
        raise UsageError("the CopilotKit app has no package-lock.json", path=lock)
    return hashlib.sha256(lock.read_bytes() + (src / "package.json").read_bytes()).hexdigest()[:16]


def app_dir(src: Path = SOURCE_DIR) -> Path:
    """Where the installed and built app lives for these sources' lock file."""
    return cache_root() / "copilotkit" / f"app-{_lock_hash(src)}"


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _run(cmd: list[str], cwd: Path, what: str, log: Callable[[str], None]) -> None:
    env = dict(os.environ) | TELEMETRY_OFF
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-15:]
        raise UsageError(f"{what} failed (exit {proc.returncode}) in {cwd}:\n" + "\n".join(tail))
    log(f"{what}: {time.monotonic() - started:.1f} s")


def node_binary() -> str:
    node = shutil.which("node")
    if node is None:
        raise UsageError(
            "Node.js is not installed", hint="install it: apt-get install -y nodejs npm (Node >= 20)"
        )
    return node


def _copy_sources(src: Path, dest: Path) -> None:
    for name in _SOURCES:
        source, target = src / name, dest / name
        if target.is_dir():
            shutil.rmtree(target)
        if source.is_dir():
            shutil.copytree(source, target)
        elif source.exists():
            shutil.copy2(source, target)


def ensure_app(src: Path = SOURCE_DIR, *, log: Callable[[str], None] | None = None) -> Path:
    """The app directory with ``node_modules`` installed (``npm ci``) and a current ``next build``.

    Raises ``UsageError`` (with the tool's last lines) when Node/npm is missing or a step fails.
    """
    say = log or (lambda _msg: None)
    node_binary()
    npm = shutil.which("npm")
    if npm is None:
        raise UsageError("npm is not installed", hint="install it: apt-get install -y npm")
    dest = app_dir(src)
    want = source_hash(src)
    with _locked(dest.parent / f"{dest.name}.lock"):
        dest.mkdir(parents=True, exist_ok=True)
        stamp = dest / _STAMP
        if stamp.exists() and stamp.read_text().strip() == want and (dest / ".next" / "BUILD_ID").exists():
            return dest
        _copy_sources(src, dest)
        npm_stamp = dest / _NPM_STAMP
        if not (npm_stamp.exists() and (dest / "node_modules").is_dir()):
            _run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], dest, "npm ci", say)
            npm_stamp.write_text("ok\n")
        stamp.unlink(missing_ok=True)
        _run([node_binary(), "node_modules/next/dist/bin/next", "build"], dest, "next build", say)
        stamp.write_text(want + "\n")
    return dest


def main() -> int:
    try:
        path = ensure_app(log=lambda msg: print(msg, file=sys.stderr))
    except UsageError as e:
        print(f"Error: {e}", file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
