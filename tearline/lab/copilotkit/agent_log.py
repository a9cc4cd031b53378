"""Read the lab agent's JSON-lines log: per run, how it ended and how long it kept generating after its client left.

Pure functions over the lines ``agent.py`` writes; no LangGraph needed. A run is one ``POST /agent``
request; its model call is the one whose ``model_start`` falls between the request and its
``response_end`` (the scripted model runs once per run).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tearline.errors import InputError

__all__ = ["AgentRun", "read_agent_log", "runs"]


@dataclass(frozen=True, kw_only=True, slots=True)
class AgentRun:
    run_id: str | None
    requested_at: float  # epoch seconds
    response_end_at: float | None  # when the HTTP response ended (None: the log stops before)
    response_end: str | None  # complete, client_gone, cancelled, error, incomplete
    events_sent: int  # SSE events the agent wrote to the response
    model_end_at: float | None
    model_end: str | None  # finished, cancelled, closed
    tokens: int  # tokens the model produced
    planned_tokens: int | None
    tokens_after_response_end: int  # produced after the HTTP response had ended
    last_token_at: float | None

    @property
    def generated_after_client_left(self) -> float:
        """Seconds the model kept producing tokens after the HTTP client went away (0 if it did not)."""
        if self.response_end != "client_gone" or self.response_end_at is None or self.last_token_at is None:
            return 0.0
        return max(0.0, self.last_token_at - self.response_end_at)


def read_agent_log(path: Path) -> list[dict[str, Any]]:
    """The log's lines as dicts; ``InputError`` naming the line for one that is not a JSON object."""
    records: list[dict[str, Any]] = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as e:
            raise InputError(f"not a JSON line: {e}", path=path, line=number) from None
        if not isinstance(record, dict) or "event" not in record or "t" not in record:
            raise InputError("not an agent log line (needs 't' and 'event')", path=path, line=number)
        records.append(record)
    return records


def runs(records: list[dict[str, Any]]) -> list[AgentRun]:
    """One ``AgentRun`` per ``POST /agent`` request, in order."""
    out: list[AgentRun] = []
    requests = [r for r in records if r["event"] == "request" and r.get("method") == "POST"]
    ends = [r for r in records if r["event"] == "response_end"]
    for req in requests:
        end = next((e for e in ends if e["t"] >= req["t"] and e.get("run_id") == req.get("run_id")), None)
        end_t = end["t"] if end else float("inf")
        start = next(
            (r for r in records if r["event"] == "model_start" and req["t"] <= r["t"] <= end_t),
            None,
        )
        call = start["call"] if start else None
        tokens = [r for r in records if r["event"] == "token" and r.get("call") == call]
        model_end = next((r for r in records if r["event"] == "model_end" and r.get("call") == call), None)
        out.append(
            AgentRun(
                run_id=req.get("run_id"),
                requested_at=req["t"],
                response_end_at=end["t"] if end else None,
                response_end=end["reason"] if end else None,
                events_sent=end["events"] if end else 0,
                model_end_at=model_end["t"] if model_end else None,
                model_end=model_end["reason"] if model_end else None,
                tokens=len(tokens),
                planned_tokens=start["tokens"] if start else None,
                tokens_after_response_end=sum(1 for r in tokens if r["t"] > end_t),
                last_token_at=tokens[-1]["t"] if tokens else None,
            )
        )
    return out
