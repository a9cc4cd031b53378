"""Evidence scenarios: one real recording per cause kind, from Chromium, Caddy, the back end and both proxy legs.

``record_scenario(name, out_dir)`` builds the incident's set-up for one way a
stream can end and records everything a user could hand to tearline:

    Chromium ──► mitmdump + ws_trace (browser leg) ──► Caddy ──► mitmdump + ws_trace (backend leg) ──► back end
    NetLog, CDP, console, HAR     capture-browser.jsonl   caddy.log   capture-backend.jsonl        backend.log

The page is ``www/chat.html`` on ``http://www.localhost:PORT``; it streams an
AG-UI run from ``http://ai.localhost:PORT`` over a streamed ``fetch`` (SSE)
and/or a WebSocket. ``caddy=False`` leaves Caddy out (Chromium, mitmdump and
the back end only); ``proxy=False`` leaves both mitmdumps out. The returned
``EvidenceBundle`` (also written as ``bundle.json``) names every file and the
cause kind and actor the recording is expected to be diagnosed as.

``SCENARIOS`` (in ``scenario_table.py``) is the table: one row per cause kind in
``tearline.analysis.diagnose.model.CAUSE_KINDS`` (except ``unknown``), named after it, plus
``renderer_crash`` (a sad tab, diagnosed as ``client_navigation`` by the
browser). Each takes a few seconds.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import tearline.addons as addons
from tearline.errors import UsageError
from tearline.lab.browser import record_browser
from tearline.lab.caddy import Caddy, CaddySite, free_port, run_caddy
from tearline.lab.incident.backend import run_backend
from tearline.lab.run_files import clear_previous_run, diagnose_args
from tearline.lab.scenario_table import SCENARIOS, Run, Scenario

__all__ = ["SCENARIOS", "EvidenceBundle", "Scenario", "ScenarioSkipped", "record_scenario"]

ADDONS_DIR = Path(addons.__file__).parent
WS_TRACE = ADDONS_DIR / "ws_trace.py"
FAULTS = ADDONS_DIR / "faults.py"


class ScenarioSkipped(UsageError):
    """The scenario cannot run here (a part it needs is missing); the message says which."""


@dataclass(frozen=True, kw_only=True, slots=True)
class EvidenceBundle:
    """Everything one scenario recorded. Paths are absolute; ``None`` when that part was not in the set-up."""

    scenario: str
    out_dir: Path
    netlog: Path
    cdp: Path
    har: Path
    console: Path
    caddy_log: Path | None
    backend_log: Path
    captures: tuple[Path, ...]  # browser leg first, then the backend leg
    expected_kind: str  # a CAUSE_KINDS name
    expected_actor: str  # an ACTORS name
    page_url: str
    started_at: float  # epoch seconds
    ended_at: float  # epoch seconds
    notes: tuple[str, ...] = ()
    caddy_config: Path | None = None  # the caddy.json Caddy ran with (for --caddy-config)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in d.items()} | {
            "captures": [str(p) for p in self.captures]
        }

    def diagnose_args(self) -> list[str]:
        """Arguments for ``tearline diagnose`` over this bundle."""
        return diagnose_args(
            self.captures,
            netlog=self.netlog,
            cdp=self.cdp,
            har=self.har,
            console=self.console,
            caddy_log=self.caddy_log,
            caddy_config=self.caddy_config,
        )


def _mitmdump(
    out_dir: Path,
    upstream: str,
    capture: Path | None,
    fault_file: Path | None,
    scheme: str = "http",
    trace_payload: str | None = None,
    extra: dict[str, object] | None = None,
) -> Any:
    """A reverse-mode mitmdump in front of ``scheme://upstream`` recording into ``capture``."""
    from tearline.lab.mitmdump import Mitmdump

    scripts: list[Path] = []
    options: dict[str, object] = {"keep_host_header": True}
    if scheme == "https":
        options["ssl_insecure"] = True  # Caddy's internal CA
    if capture is not None:
        scripts.append(WS_TRACE)
        options["trace_file"] = str(capture)
        if trace_payload is not None:
            options["trace_payload"] = trace_payload
    if fault_file is not None:
        scripts.append(FAULTS)
        options["faults"] = str(fault_file)
    options.update(extra or {})
    return Mitmdump(
        scripts=scripts,
        mode=f"reverse:{scheme}://{upstream}",
        options=options,
        confdir=out_dir / "mitmproxy-conf",
    )


def _page_query(sc: Scenario, ai_origin: str | None) -> str:
    query = {kind: end for kind, end in sc.streams.items()} | sc.page
    if ai_origin is not None:
        query["ai"] = ai_origin
    return urlencode(query)


@contextmanager
def _started(proxy: Any) -> Iterator[Any]:
    with proxy:
        yield proxy


def record_scenario(
    name: str,
    out_dir: Path,
    *,
    caddy: bool = True,
    proxy: bool = True,
    backend_leg: bool = True,
    tls: bool = False,
    caddy_binary: str | Path | None = None,
) -> EvidenceBundle:
    """Record scenario ``name`` into ``out_dir`` (created) and return its ``EvidenceBundle``.

    A previous recording's files in ``out_dir`` (``tearline.lab.run_files.RUN_FILES``)
    are removed first, so the bundle holds this run only; other files stay.

    ``caddy``: Caddy between the browser and the back end. ``proxy``: tearline's
    recorder (mitmdump + ``addons/ws_trace.py``) on the browser leg, and with
    ``backend_leg`` also between Caddy and the back end. ``tls``: the browser
    speaks HTTPS (HTTP/2 for the page and the fetch) to Caddy, or to the browser-leg
    mitmdump when there is no Caddy; the back end stays plain HTTP. ``caddy_binary``: the Caddy
    executable to run (default: the one next to this Python, ``.venv/bin/caddy``). Raises
    ``UsageError`` for an unknown name, ``ScenarioSkipped`` when a part it needs is missing.
    """
    if name not in SCENARIOS:
        raise UsageError(f"unknown scenario {name!r}", hint="choose one of: " + ", ".join(SCENARIOS))
    if tls and not (caddy or proxy):
        raise UsageError("tls needs Caddy or the proxy to terminate it (the back end speaks plain HTTP)")
    scheme = "https" if tls else "http"
    sc = SCENARIOS[name]
    if not caddy:
        if sc.needs_caddy:
            raise ScenarioSkipped(f"scenario {name!r} needs Caddy (its timer is Caddy's stream_timeout)")
        sc = sc.without_caddy or sc
    if sc.tls_only is not None and not tls:
        raise ScenarioSkipped(f"scenario {name!r} needs tls=True: {sc.tls_only}")
    if sc.browser_leg and not proxy:
        raise ScenarioSkipped(f"scenario {name!r} needs the proxy (its timer is the browser-leg mitmdump's)")
    if sc.fault is not None and not (proxy and FAULTS.exists()):
        why = "addons/faults.py is not there yet" if proxy else "it needs the proxy (proxy=True)"
        raise ScenarioSkipped(f"scenario {name!r} is skipped: {why}")
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)  # run folders: owner only
    clear_previous_run(out_dir)  # an earlier recording here must not mix into this one
    notes: list[str] = []
    tracing = proxy and WS_TRACE.exists()
    if proxy and not tracing:
        notes.append("addons/ws_trace.py is missing: mitmdump ran without the recorder, no capture")
    captures: list[Path] = []
    started_at = time.time()
    with ExitStack() as stack:
        backend = stack.enter_context(run_backend(out_dir / "backend.log"))
        ai_upstream = f"127.0.0.1:{free_port()}" if sc.ai_down else backend.address
        ai_origin: str | None = None
        lab_caddy: Caddy | None = None
        if caddy:
            if proxy and backend_leg and not sc.ai_down:
                capture = out_dir / "capture-backend.jsonl" if tracing else None
                leg2 = stack.enter_context(
                    _started(
                        _mitmdump(
                            out_dir,
                            ai_upstream,
                            capture,
                            None,
                            trace_payload=sc.trace_payload,
                            extra=sc.both_legs,
                        )
                    )
                )
                ai_upstream = f"127.0.0.1:{leg2.port}"
                if capture is not None:
                    captures.append(capture)
            sites = [
                CaddySite(host="www.localhost", upstream=backend.address),
                CaddySite(host="ai.localhost", upstream=ai_upstream, **sc.ai_site),
            ]
            lab_caddy = stack.enter_context(run_caddy(sites, out_dir, tls=tls, binary=caddy_binary))
            front = f"127.0.0.1:{lab_caddy.port}"
        else:
            front = backend.address
            if sc.ai_down:
                ai_origin = f"{scheme}://ai.localhost:{ai_upstream.rsplit(':', 1)[1]}"
        if proxy:
            fault_file = None
            if sc.fault is not None:
                fault_file = out_dir / "faults.toml"
                fault_file.write_text(sc.fault)
            capture = out_dir / "capture-browser.jsonl" if tracing else None
            try:
                leg1 = stack.enter_context(
                    _started(
                        _mitmdump(
                            out_dir,
                            front,
                            capture,
                            fault_file,
                            "https" if tls and caddy else "http",
                            trace_payload=sc.trace_payload,
                            extra={**sc.both_legs, **sc.browser_leg},
                        )
                    )
                )
            except Exception as e:  # MitmdumpFailed: with a fault scenario, the fault addon is not ready
                if fault_file is None:
                    raise
                last = [ln for ln in str(e).splitlines() if "Error" in ln or "error" in ln][-1:]
                raise ScenarioSkipped(
                    f"scenario {name!r} is skipped: mitmdump did not start with addons/faults.py "
                    f"({' '.join(last) or type(e).__name__})"
                ) from e
            front = f"127.0.0.1:{leg1.port}"
            if capture is not None:
                captures.insert(0, capture)
        port = front.rsplit(":", 1)[1]
        page_url = f"{scheme}://www.localhost:{port}/chat.html?{_page_query(sc, ai_origin)}"
        browser = stack.enter_context(record_browser(out_dir, ignore_https_errors=tls))
        browser.page.goto(page_url)
        sc.act(Run(browser=browser, caddy=lab_caddy, streams=tuple(sc.streams)))
        browser.pump(0.3)
        recording = browser.recording
    bundle = EvidenceBundle(
        scenario=name,
        out_dir=out_dir,
        netlog=recording.netlog,
        cdp=recording.cdp,
        har=recording.har,
        console=recording.console,
        caddy_log=lab_caddy.log_path if lab_caddy is not None else None,
        backend_log=out_dir / "backend.log",
        captures=tuple(captures),
        expected_kind=sc.expected_kind,
        expected_actor=sc.expected_actor,
        page_url=page_url,
        started_at=started_at,
        ended_at=time.time(),
        notes=tuple(notes),
        caddy_config=lab_caddy.config_path if lab_caddy is not None else None,
    )
    (out_dir / "bundle.json").write_text(json.dumps(bundle.to_dict(), indent=2) + "\n")
    return bundle


def main(argv: list[str] | None = None) -> int:
    """``python -m tearline.lab.scenarios [--no-caddy] [--no-proxy] [--tls] [--caddy BIN] [--out DIR] NAME...``.

    Prints one line per scenario: its name, where it went, and the ``tearline diagnose`` arguments.
    """
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m tearline.lab.scenarios", description=__doc__.split("\n")[0]
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help="scenarios to record (default: all)")
    parser.add_argument("--out", type=Path, default=Path("out/scenarios"), help="parent directory")
    parser.add_argument("--no-caddy", action="store_true", help="leave Caddy out")
    parser.add_argument("--no-proxy", action="store_true", help="leave the mitmdump recorders out")
    parser.add_argument("--tls", action="store_true", help="HTTPS (HTTP/2) between the browser and Caddy")
    parser.add_argument("--caddy", type=Path, default=None, metavar="BIN", help="another caddy executable")
    args = parser.parse_args(argv)
    status = 0
    for name in args.names or list(SCENARIOS):
        try:
            b = record_scenario(
                name,
                args.out / name,
                caddy=not args.no_caddy,
                proxy=not args.no_proxy,
                tls=args.tls,
                caddy_binary=args.caddy,
            )
        except ScenarioSkipped as e:
            print(f"{name}: skipped: {e}")
            continue
        except UsageError as e:
            print(f"Error: {e}")
            status = 2
            continue
        print(f"{name}: {b.out_dir} (expected {b.expected_kind} by {b.expected_actor})")
        print("  tearline diagnose " + " ".join(b.diagnose_args()))
    return status


if __name__ == "__main__":
    raise SystemExit(main())
