"""Measure the real CopilotKit stack under user actions and faults: one recording per row, one table.

::

    python -m tearline.lab.copilotkit.matrix out/ck-matrix [ROW ...]

For each row (``ROWS``) it records a chat (``record.record_chat``), runs ``tearline diagnose --json`` over
the recording, and reports: how the browser's ``agent/run`` stream ended and its last AG-UI event type,
what the chat showed the user, how the hop behind the runtime ended, what the agent logged (its HTTP
response's end, its model call's end, tokens), how long it kept generating after the browser's stream
ended, and the cause tearline named for the browser's run stream. Writes ``matrix.json`` and prints a
Markdown table (docs/case-study-copilotkit.md holds one).
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tearline.lab.copilotkit.record import ChatRecording, record_chat

__all__ = ["ROWS", "Row", "main", "measure"]


def _fault(action: str, to: str = "both", **extra: object) -> str:
    lines = [
        "[[fault]]",
        f'action = "{action}"',
        'stream = "sse"',
        'direction = "server"',
        "after_messages = 20",
    ]
    if action in ("abort", "reset"):
        lines.append(f'to = "{to}"')
    lines += [f"{k} = {json.dumps(v)}" for k, v in extra.items()]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True, kw_only=True)
class Row:
    name: str
    what: str
    tls: bool = True
    leave: bool = False  # the user clicks the other domain's link after 20 tokens
    stop: bool = False  # the user presses the chat's stop button after 20 tokens
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
    )
}


def _diagnose(rec: ChatRecording) -> dict[str, Any]:
    args = [str(rec.captures[leg]) for leg in ("browser", "agent") if leg in rec.captures]
    args += [
        "--netlog",
        str(rec.browser.netlog),
        "--cdp",
        str(rec.browser.cdp),
        "--har",
        str(rec.browser.har),
    ]
    args += ["--console", str(rec.browser.console), "--caddy-log", str(rec.caddy_log), "--json"]
    tearline = Path(sys.executable).with_name("tearline")
    proc = subprocess.run([str(tearline), "diagnose", *args], capture_output=True, text=True, timeout=600)
    try:
        result: dict[str, Any] = json.loads(proc.stdout)
    except ValueError:
        return {"error": (proc.stderr or proc.stdout).strip().splitlines()[-1:]}
    return result


def measure(row: Row, out_dir: Path) -> dict[str, Any]:
    rec = record_chat(
        out_dir,
        tls=row.tls,
        faults=row.faults,
        tokens=row.tokens,
        interval=0.05,
        leave_after_tokens=20 if row.leave else None,
        stop_after_tokens=20 if row.stop else None,
    )
    browser = rec.run_stream("browser")
    agent_streams = [s for s in rec.streams("agent") if "RUN_STARTED" in s.data_types]
    agent = agent_streams[0] if agent_streams else None
    runs = rec.agent_runs()
    run = runs[0] if runs else None
    after = None
    if run is not None and run.last_token_at is not None and browser.ended_at is not None:
        after = round(max(0.0, run.last_token_at - browser.ended_at), 2)
    diagnosis = _diagnose(rec)
    runtime_streams = [s for s in diagnosis.get("streams", []) if "/api/copilotkit" in s.get("url", "")]
    busiest = max(runtime_streams, key=lambda s: s.get("stats", {}).get("messages_server", 0), default=None)
    run_cause = busiest.get("cause", {}).get("kind") if busiest else None
    console = [
        ln.split("] ", 1)[-1] for ln in rec.browser.console.read_text().splitlines() if "[error]" in ln
    ]
    return {
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
        "diagnosis_run_stream": run_cause,
        "out_dir": str(rec.out_dir),
    }


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        print("usage: python -m tearline.lab.copilotkit.matrix OUT_DIR [ROW ...]", file=sys.stderr)
        return 2
    out = Path(args[0])
    names = args[1:] or list(ROWS)
    results = []
    for name in names:
        result = measure(ROWS[name], out / name)
        print(json.dumps(result), flush=True)
        results.append(result)
    (out / "matrix.json").write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
