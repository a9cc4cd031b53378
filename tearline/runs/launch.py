"""What starts a run's parts: the taps (mitmdump + recorder + faults) and the contract of an app launcher.

An app launcher (a row of ``tearline.runs.apps.APPS``) is ``launch(ctx) -> AppSite``:
it starts its processes inside ``ctx.stack`` (so they stop however the run
ends), puts a backend tap in front of each upstream with ``ctx.tap(...)`` and
returns where the browser-side tap must forward to.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tearline.addons as addons
from tearline.errors import UsageError
from tearline.runs.model import LegFault

__all__ = ["AppSite", "LaunchContext", "Tap", "fault_toml", "start_tap"]

ADDONS_DIR = Path(addons.__file__).parent
WS_TRACE = ADDONS_DIR / "ws_trace.py"
FAULTS = ADDONS_DIR / "faults.py"


@dataclass(frozen=True, kw_only=True, slots=True)
class Tap:
    """A running mitmdump in reverse mode: ``address`` (127.0.0.1:port) forwards to ``upstream``."""

    leg: str
    upstream: str
    port: int
    capture: Path
    proxy: Any  # tearline.lab.mitmdump.Mitmdump

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


@dataclass(frozen=True, kw_only=True, slots=True)
class AppSite:
    """What a launcher started: where the browser tap forwards to and which files it writes."""

    front: str  # scheme://127.0.0.1:port the browser tap forwards to
    host: str  # the host name the browser uses (Host header kept through the tap)
    scheme: str  # what the browser speaks to the tap
    caddy: Any = None  # tearline.lab.caddy.Caddy or CaddyJson: has reload(timeout=...)
    caddy_log: Path | None = None
    caddy_config: Path | None = None
    backend_log: Path | None = None
    captures: tuple[Path, ...] = ()  # backend-leg captures
    ports: tuple[int, ...] = ()


@dataclass(kw_only=True)
class LaunchContext:
    out_dir: Path
    stack: ExitStack
    tls: bool
    options: Mapping[str, Any]
    backend_faults: Sequence[LegFault]
    taps: list[Tap] = field(default_factory=list)
    tap_factory: Callable[[str, str, int], Tap] | None = None

    def tap(self, upstream: str, *, leg: str = "backend") -> Tap:
        """Start a recording tap in front of ``upstream`` (``scheme://host:port``) for this run."""
        assert self.tap_factory is not None
        tap = self.tap_factory(upstream, leg, len([t for t in self.taps if t.leg == leg]))
        self.taps.append(tap)
        return tap


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value))  # a JSON string is a valid TOML basic string


def fault_toml(faults: Sequence[LegFault]) -> str:
    """The ``[[fault]]`` tables of ``faults`` (without ``leg``) as a scenario file for addons/faults.py."""
    lines = ["# written by tearline run: the faults of one leg"]
    for f in faults:
        lines.append("")
        lines.append("[[fault]]")
        for key, value in f.table.items():
            if value is not None:
                lines.append(f"{key} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"


def start_tap(
    stack: ExitStack,
    out_dir: Path,
    *,
    upstream: str,
    leg: str,
    index: int,
    faults: Sequence[LegFault],
) -> Tap:
    """A reverse-mode mitmdump with the recorder (and the faults of its leg) in front of ``upstream``."""
    from tearline.lab.mitmdump import Mitmdump, MitmdumpFailed

    suffix = "" if index == 0 else f"-{index + 1}"
    capture = out_dir / f"capture-{leg}{suffix}.jsonl"
    options: dict[str, object] = {"keep_host_header": True, "trace_file": str(capture)}
    scripts = [WS_TRACE]
    if upstream.startswith("https://"):
        options["ssl_insecure"] = True  # the upstream's certificate (Caddy's internal CA, a dev cert)
    if faults:
        fault_file = out_dir / f"faults-{leg}{suffix}.toml"
        fault_file.write_text(fault_toml(faults))
        scripts.append(FAULTS)
        options["faults"] = str(fault_file)
    proxy = Mitmdump(
        scripts=scripts, mode=f"reverse:{upstream}", options=options, confdir=out_dir / "mitmproxy-conf"
    )
    try:
        stack.enter_context(proxy)
    except MitmdumpFailed as e:
        errors = [ln.strip() for ln in e.log.splitlines() if "rror" in ln][-1:]
        raise UsageError(
            f"the {leg} tap (mitmdump) did not start: {' '.join(errors) or 'see its log'}",
            place=f"{leg} leg",
            hint="check the [[fault]] tables of that leg",
        ) from None
    return Tap(leg=leg, upstream=upstream, port=proxy.port, capture=capture, proxy=proxy)
