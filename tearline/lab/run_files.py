"""The files one lab recording writes into its directory, and clearing a previous run's before a new one.

A recording (``record_scenario``, ``tearline demo``) writes fixed names into
its directory. Some parts append (Caddy's ``output file`` log, the back end's
JSON log) and some are written only in some set-ups (``capture-backend.jsonl``
needs Caddy and the backend leg), so recording twice into one directory would
mix the runs: two runs' streams in ``caddy.log``, or a stale capture from an
earlier set-up beside the new bundle. ``clear_previous_run`` removes exactly the
files a recording writes (``RUN_FILES``, ``RUN_PATTERNS``) and nothing else: files
the user put there, and the reusable state directories (``mitmproxy-conf/``,
``caddy-data/``: certificate authorities), stay.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tearline.errors import UsageError

__all__ = ["RUN_FILES", "RUN_PATTERNS", "clear_previous_run", "diagnose_args", "previous_run_files"]

RUN_FILES: tuple[str, ...] = (
    # the browser (tearline.lab.browser)
    "netlog.json",
    "cdp.jsonl",
    "console.log",
    "page.har",
    # Caddy (tearline.lab.caddy)
    "caddy.log",
    "caddy.stderr",
    "caddy.json",
    # the agent (tearline.lab.incident.backend)
    "backend.log",
    # the scenario and the demo
    "faults.toml",
    "bundle.json",
    "run.json",
    "screenshot.png",
    "diagnosis.txt",
    "diagnosis.json",
    "report.html",
    "timeline.png",
)
"""Exact names of the files a recording (and the demo's diagnosis and report) writes."""

RUN_PATTERNS: tuple[str, ...] = ("capture-*.jsonl", "faults-*.toml")
"""Glob patterns of the recorder's captures (``capture-browser.jsonl``, ``capture-backend.jsonl``) and of
the per-leg fault files a run writes (``faults-browser.toml``)."""


def previous_run_files(out_dir: Path) -> list[Path]:
    """The files in ``out_dir`` (not below it) that a recording writes, sorted; [] if it does not exist."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        return []
    found = {out_dir / name for name in RUN_FILES}
    for pattern in RUN_PATTERNS:
        found.update(out_dir.glob(pattern))
    return sorted(p for p in found if p.is_file() or p.is_symlink())


def clear_previous_run(out_dir: Path) -> list[Path]:
    """Remove a previous recording's files from ``out_dir`` so a new one starts fresh; return what went.

    Only ``previous_run_files(out_dir)`` are removed (a symlink is removed, not its
    target). Raises ``UsageError`` naming the file when one cannot be removed.
    """
    removed: list[Path] = []
    for path in previous_run_files(out_dir):
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        except OSError as e:
            raise UsageError(
                f"cannot remove the previous run's file ({e.strerror})",
                path=path,
                hint="remove it yourself or record into another directory",
            ) from e
        removed.append(path)
    return removed


def diagnose_args(
    captures: Sequence[Path],
    *,
    netlog: Path,
    cdp: Path,
    har: Path,
    console: Path,
    caddy_log: Path | None = None,
    caddy_config: Path | None = None,
) -> list[str]:
    """The ``tearline diagnose`` arguments for one recording's files (a lab bundle, a run's directory)."""
    args = [str(p) for p in captures]
    args += ["--netlog", str(netlog), "--cdp", str(cdp), "--har", str(har), "--console", str(console)]
    if caddy_log is not None:
        args += ["--caddy-log", str(caddy_log)]
    if caddy_config is not None and caddy_config.exists():
        args += ["--caddy-config", str(caddy_config)]
    return args
