"""Measure the real CopilotKit stack under user actions and faults: one recording per row, one table.

::

    python -m tearline.lab.copilotkit.matrix out/ck-matrix [ROW ...]
    python -m tearline.lab.copilotkit.matrix --diagnose-only out/ck-matrix [ROW ...]   # re-diagnose

For each row (``ROWS``) it records a chat (``record.record_chat``), runs ``tearline diagnose --json`` over
the recording, and reports: how the browser's ``agent/run`` stream ended and its last AG-UI event type,
what the chat showed the user, how the hop behind the runtime ended, what the agent logged (its HTTP
response's end, its model call's end, tokens), how long it kept generating after the browser's stream
ended, whether Chromium ended on an error page, the browser's net error for the run stream, and the cause
tearline named for it. Each row's directory keeps its ``row.json``; ``--diagnose-only`` re-runs only the
diagnosis over recordings already made (after a rule changed). Writes ``matrix.json`` and prints each row
as JSON (docs/case-study-copilotkit.md holds the table).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tearline.lab.copilotkit.record import SseStream, record_chat

__all__ = ["ROWS", "Row", "main", "measure", "run_stream_diagnosis"]


def _fault(action: str, to: str = "both", **extra: object) -> str:
    lines = [
        "[[fault]]",
        f'action = "{action}"',
        'stream = "sse"',
        'direction = "server"',
        "after_messages = 20",
    ]
    if action in ("abort", "reset", "stall"):
        lines.append(f'to = "{to}"')
    lines += [f"{k} = {json.dumps(v)}" for k, v in extra.items()]
    return "\n".join(lines) + "\n"


_RESPOND = """[[fault]]
action = "respond"
match = "~u /agent"
status = {status}
body = "upstream unavailable"
"""


@dataclass(frozen=True, kw_only=True)
class Row:
    name: str
    what: str
    tls: bool = True
    leave: bool = False  # the user clicks the other domain's link after 20 tokens
    stop: bool = False  # the user presses the chat's stop button after 20 tokens
    reload: bool = False  # Caddy's config is reloaded (admin API) after 20 tokens
    agent_answers: bool = True  # False: a fault answers in the agent's place
    taps: tuple[str, ...] = ("browser", "agent")  # without "browser": Chromium talks to Caddy directly
    agent_read_timeout: float | None = None  # Caddy's reverse_proxy read timeout on the runtime-agent hop
    faults: dict[str, str] = field(default_factory=dict)
    tokens: int = 120


ROWS: dict[str, Row] = {
    r.name: r
    for r in (
        Row(name="nav_away_h2", what="user clicks the header link after 20 tokens (HTTP/2)", leave=True),
        Row(
            name="nav_away_h1",
            what="user clicks the header link after 20 tokens (HTTP/1.1)",
            tls=False,
            leave=True,
        ),
        Row(name="clean_finish", what="the answer streams to its end", tokens=40),
        Row(name="user_stop", what="user presses the chat's stop button after 20 tokens", stop=True),
        Row(
            name="agent_abort",
            what="FIN on the runtime-agent hop after 20 events",
            faults={"agent": _fault("abort")},
        ),
        Row(
            name="agent_reset",
            what="RST on the runtime-agent hop after 20 events",
            faults={"agent": _fault("reset")},
        ),
        Row(
            name="agent_truncate",
            what="agent's body cut without its terminating chunk after 20 events",
            faults={"agent": _fault("truncate")},
        ),
        Row(
            name="browser_abort",
            what="FIN to the browser after 20 events",
            faults={"browser": _fault("abort", to="client")},
        ),
        Row(
            name="browser_reset",
            what="RST to the browser after 20 events",
            faults={"browser": _fault("reset", to="client")},
        ),
        Row(
            name="browser_truncate",
            what="the browser's body cut mid-event after 20 events",
            faults={"browser": _fault("truncate", mid_event=True)},
        ),
        Row(
            name="agent_stall",
            what="the agent hop stalls for 8 s after 20 events, then flows on",
            faults={"agent": _fault("stall", ms=8000)},
        ),
        Row(
            name="agent_delay",
            what="every agent-hop event held 300 ms",
            faults={"agent": _fault("delay", ms=300).replace("after_messages = 20\n", "")},
        ),
        Row(
            name="agent_502",
            what="the agent hop answers 502 (the agent is down)",
            faults={"agent": _RESPOND.format(status=502)},
            agent_answers=False,
        ),
        Row(
            name="agent_504",
            what="the agent hop answers 504 (a gateway timeout)",
            faults={"agent": _RESPOND.format(status=504)},
            agent_answers=False,
        ),
        Row(
            name="agent_read_timeout",
            what="the agent goes silent after 20 events; Caddy's read_timeout (3 s) on its hop fires",
            faults={"agent": _fault("stall", ms=15000)},
            agent_read_timeout=3.0,
        ),
        Row(name="caddy_reload", what="Caddy's config reloaded (admin API) after 20 tokens", reload=True),
        Row(
            name="caddy_reload_direct",
            what="Caddy's config reloaded after 20 tokens, no tap between Chromium and Caddy",
            reload=True,
            taps=("agent",),
        ),
        Row(
            name="user_stop_h1",
            what="user presses stop after 20 tokens (HTTP/1.1)",
            tls=False,
            stop=True,
        ),
        Row(
            name="agent_abort_h1",
            what="FIN on the runtime-agent hop after 20 events (HTTP/1.1)",
            tls=False,
            faults={"agent": _fault("abort")},
        ),
        Row(
            name="browser_reset_h1",
            what="RST to the browser after 20 events (HTTP/1.1)",
            tls=False,
            faults={"browser": _fault("reset", to="client")},
        ),
    )
}


def _diagnose(out_dir: Path) -> dict[str, Any]:
    """``tearline diagnose --json`` over everything a row's recording holds (file names: ``stack.py``)."""
    args = [str(out_dir / f"capture-{leg}.jsonl") for leg in ("browser", "agent")]
    args = [a for a in args if Path(a).exists()]
    for flag, name in (
        ("--netlog", "netlog.json"),
        ("--cdp", "cdp.jsonl"),
        ("--har", "page.har"),
        ("--console", "console.log"),
        ("--caddy-log", "caddy.log"),
        ("--caddy-config", "Caddyfile"),
    ):
        if (out_dir / name).exists():
            args += [flag, str(out_dir / name)]
    args.append("--json")
    tearline = Path(sys.executable).with_name("tearline")
    proc = subprocess.run([str(tearline), "diagnose", *args], capture_output=True, text=True, timeout=600)
    try:
        result: dict[str, Any] = json.loads(proc.stdout)
    except ValueError:
        return {"error": (proc.stderr or proc.stdout).strip().splitlines()[-1:]}
    return result


_UNTAPPED = SseStream(
    stream="",
    http_version="(no browser tap)",
    data_types=(),
    complete=None,
    how=None,
    error=None,
    ended_at=None,
)
_NET = re.compile(r"\b(ERR_[A-Z0-9_]+)\b")


def run_stream_diagnosis(out_dir: Path) -> dict[str, Any]:
    """The diagnosis's account of the browser's run stream (the runtime stream with the most events)."""
    diagnosis = _diagnose(out_dir)
    if "error" in diagnosis:
        return {"diagnosis_error": diagnosis["error"]}
    runtime_streams = [s for s in diagnosis.get("streams", []) if "/api/copilotkit" in s.get("url", "")]
    busiest = max(runtime_streams, key=lambda s: s.get("stats", {}).get("messages_server", 0), default=None)
    cause = (busiest or {}).get("cause") or {}
    ends = ((busiest or {}).get("stats") or {}).get("ends") or {}
    net = next((m.group(1) for k, v in sorted(ends.items()) if (m := _NET.search(v))), None)
    agent = [s for s in diagnosis.get("streams", []) if s.get("url", "").endswith("/agent")]
    return {
        "diagnosis_run_stream": cause.get("kind"),
        "diagnosis_actor": cause.get("actor"),
        "diagnosis_details": cause.get("details", {}),
        "diagnosis_summary": cause.get("summary"),
        "diagnosis_evidence": [e.get("text", "") for e in cause.get("evidence", [])],
        "diagnosis_runtime_streams": [s.get("cause", {}).get("kind") for s in runtime_streams],
        "run_stream_net_error": net,
        "run_stream_ended_at": (busiest or {}).get("ended_at"),
        "diagnosis_agent_hop": [s.get("cause", {}).get("kind") for s in agent],
    }


def measure(row: Row, out_dir: Path) -> dict[str, Any]:
    rec = record_chat(
        out_dir,
        tls=row.tls,
        faults=row.faults,
        tokens=row.tokens,
        interval=0.05,
        leave_after_tokens=20 if row.leave else None,
        stop_after_tokens=20 if row.stop else None,
        reload_after_tokens=20 if row.reload else None,
        agent_answers=row.agent_answers,
        taps=row.taps,
        agent_read_timeout=row.agent_read_timeout,
    )
    browser_streams = rec.streams("browser") if "browser" in rec.captures else []
    runs_seen = [s for s in browser_streams if "RUN_STARTED" in s.data_types]
    browser = (runs_seen or browser_streams or [_UNTAPPED])[-1]  # the run stream, else the last SSE stream
    agent_streams = [s for s in rec.streams("agent") if "RUN_STARTED" in s.data_types]
    agent = agent_streams[0] if agent_streams else None
    runs = rec.agent_runs()
    run = runs[0] if runs else None
    diagnosed = run_stream_diagnosis(rec.out_dir)
    browser_ended = browser.ended_at or diagnosed.get("run_stream_ended_at")  # untapped: the NetLog's end
    after = None
    if run is not None and run.last_token_at is not None and browser_ended is not None:
        after = round(max(0.0, run.last_token_at - browser_ended), 2)
    console = [
        ln.split("] ", 1)[-1] for ln in rec.browser.console.read_text().splitlines() if "[error]" in ln
    ]
    result = {
        "row": row.name,
        "what": row.what,
        "http_version": browser.http_version,
        "browser_end": f"{browser.how} complete={browser.complete}"
        + (f" ({browser.error})" if browser.error else ""),
        "browser_last_event": browser.data_types[-1] if browser.data_types else None,
        "browser_text_events": browser.count("TEXT_MESSAGE_CONTENT"),
        "console_errors": [c for c in console if "404" not in c][:3],
        "agent_hop_end": f"{agent.how} complete={agent.complete}" if agent else "no run stream",
        "agent_hop_last_event": agent.data_types[-1] if agent and agent.data_types else None,
        "agent_response_end": run.response_end if run else None,
        "agent_model_end": run.model_end if run else None,
        "agent_tokens": run.tokens if run else 0,
        "generated_after_browser_end_s": after,
        "error_page": rec.error_page,
        "final_url": rec.final_url,
        "out_dir": str(rec.out_dir),
    }
    (rec.out_dir / "row.json").write_text(json.dumps(result, indent=2) + "\n")
    return result | diagnosed


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    only_diagnose = "--diagnose-only" in args
    args = [a for a in args if a != "--diagnose-only"]
    if not args:
        print(
            "usage: python -m tearline.lab.copilotkit.matrix [--diagnose-only] OUT_DIR [ROW ...]",
            file=sys.stderr,
        )
        return 2
    out = Path(args[0])
    names = args[1:] or list(ROWS)
    unknown = [n for n in names if n not in ROWS]
    if unknown:
        print(f"unknown row(s) {', '.join(unknown)}; rows: {', '.join(ROWS)}", file=sys.stderr)
        return 2
    results = []
    for name in names:
        if only_diagnose:
            row_file = out / name / "row.json"
            if not row_file.exists():
                print(f"{row_file}: no recording of this row (run without --diagnose-only)", file=sys.stderr)
                continue
            result = json.loads(row_file.read_text()) | run_stream_diagnosis(out / name)
        else:
            try:
                result = measure(ROWS[name], out / name)
            except Exception as e:  # one row's failure (a part did not start, a wait timed out) is its result
                result = {"row": name, "failed": f"{type(e).__name__}: {e}"[:500]}
        print(json.dumps(result), flush=True)
        results.append(result)
    (out / "matrix.json").write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
