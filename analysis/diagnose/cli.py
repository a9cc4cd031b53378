"""``tearline diagnose``: name the root cause of every stream's end.

Also the shared input side of ``tearline report``: ``evidence_options`` is
the click decorator that adds the evidence inputs (capture files as
arguments, ``--netlog``, ``--cdp``, ``--har``, ``--console``,
``--caddy-log``; and ``--caddy-config``, the proxy's configuration), and ``diagnosis_from_options(**kwargs)`` turns those
parsed options into a ``Diagnosis``. Both commands take the same inputs.

Exit status: 0 when the analysis ran (whatever it found); 1 with
``--fail-on abnormal`` when some stream ended by a fault (expected ends do not count); 2 with a one-line
message on bad input.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from tearline.analysis.diagnose.model import Diagnosis, StreamDiagnosis

from tearline.errors import UsageError

__all__ = ["diagnose_command", "diagnosis_from_options", "evidence_options", "format_text"]

# option name (python kwarg) -> (flag, help)
EVIDENCE_FLAGS: dict[str, tuple[str, str]] = {
    "netlog": ("--netlog", "Chrome NetLog JSON (chrome://net-export or --log-net-log)."),
    "cdp": ("--cdp", "DevTools Protocol event log (JSON array or JSON Lines of {method, params})."),
    "har": ("--har", "HAR 1.2 file (Chrome DevTools or Playwright)."),
    "console": ("--console", "Console log (text lines with timestamps)."),
    "caddy_log": ("--caddy-log", "Caddy JSON log (access and reverse_proxy loggers)."),
}
# configuration read beside the evidence: option name -> (flag, help)
CONFIG_FLAGS: dict[str, tuple[str, str]] = {
    "caddy_config": (
        "--caddy-config",
        "Caddyfile (adapted with the caddy binary) or Caddy JSON config the proxy ran with: "
        "its timeouts per route name the timer that ended a stream.",
    ),
}


def evidence_options[F: Callable[..., Any]](fn: F) -> F:
    """Add the evidence inputs to a click command: ``CAPTURE...`` and one flag per evidence kind."""
    for name, (flag, help_text) in reversed([*EVIDENCE_FLAGS.items(), *CONFIG_FLAGS.items()]):
        fn = click.option(
            flag, name, type=click.Path(dir_okay=False), default=None, metavar="FILE", help=help_text
        )(fn)
    fn = click.argument("captures", nargs=-1, type=click.Path(dir_okay=False), metavar="[CAPTURE]...")(fn)
    return fn


def _check_file(path: str, what: str) -> Path:
    p = Path(path)
    if not p.exists():
        raise UsageError(f"{what} file not found", path=path, hint="check the path")
    if not p.is_file():
        raise UsageError(f"{what} is not a regular file", path=path)
    return p


def diagnosis_from_options(**kwargs: Any) -> Diagnosis:
    """Load the evidence named by ``evidence_options`` and diagnose it.

    Accepts the kwargs click passes (``captures``, ``netlog``, ``cdp``, ``har``,
    ``console``, ``caddy_log``) and ignores any others, so a command can pass
    its whole ``**kwargs``. Raises ``UsageError`` when nothing was given or a file
    is missing, ``InputError`` (from the importers) when a file is malformed.
    """
    captures = tuple(kwargs.get("captures") or ())
    files = {name: kwargs.get(name) for name in EVIDENCE_FLAGS}
    if not captures and not any(files.values()):
        raise UsageError(
            "no evidence given",
            hint="pass capture files and/or --netlog, --cdp, --har, --console, --caddy-log",
        )
    for c in captures:
        _check_file(c, "capture")
    for name, value in files.items():
        if value:
            _check_file(value, EVIDENCE_FLAGS[name][0])
    try:
        from tearline.analysis.evidence.load import load_evidence
    except ImportError as e:  # the importers are another module; say so plainly
        raise UsageError(f"evidence importers are not available ({e})") from None
    from tearline.analysis.diagnose.diagnosis import diagnose

    timers = []
    if kwargs.get("caddy_config"):
        from tearline.analysis.evidence.caddyconfig import load_caddy_config

        timers = load_caddy_config(_check_file(kwargs["caddy_config"], "--caddy-config"))
    records = load_evidence(captures=captures, **files)
    return diagnose(records, timers=timers)


# --- text output ----------------------------------------------------------------------------

_SECRET_PARAM = re.compile(
    r"([?&](?:token|access_token|key|api_key|apikey|secret|password|auth|sig|signature|session)=)[^&#\s]*",
    re.I,
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def clean(text: str | None) -> str:
    """Text safe for a terminal: control characters escaped, secret query values redacted."""
    if not text:
        return ""
    text = _SECRET_PARAM.sub(r"\1[redacted]", text)
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def clock(t: float | None) -> str:
    """Wall epoch seconds as UTC ``HH:MM:SS.mmm``."""
    if t is None:
        return "?"
    ms = round((t % 1) * 1000)
    if ms == 1000:
        t, ms = t + 1, 0
    return time.strftime("%H:%M:%S", time.gmtime(t)) + f".{ms:03d}"


OUTCOME_TAGS = {"fault": "  (fault)", "expected": "  (ended as expected)", "open": "  (no end recorded)"}


def _stream_block(s: StreamDiagnosis) -> list[str]:
    st = s.stats
    lifetime = (
        f"{s.ended_at - s.opened_at:.2f} s" if s.opened_at is not None and s.ended_at is not None else "open"
    )
    lines = [
        f"{s.id}  {s.kind}  {clean(s.url)}" + OUTCOME_TAGS.get(s.outcome, ""),
        f"    lifetime  {clock(s.opened_at)} -> {clock(s.ended_at) if s.ended_at is not None else 'still open'}"
        f" ({lifetime}); received {st.get('messages_server', 0)} ({st.get('bytes_server', 0)} B),"
        f" sent {st.get('messages_client', 0)} ({st.get('bytes_client', 0)} B)",
        f"    cause     {s.cause.kind} by {s.cause.actor} ({s.cause.confidence:.0%}): {clean(s.cause.summary)}",
    ]
    for i, e in enumerate(s.cause.evidence[:6]):
        where = f" ({clean(e.where)})" if e.where else ""
        lines.append(
            f"    {'evidence' if i == 0 else '':8}  {clock(e.t)} [{e.source}] {clean(e.text)}{where}"
        )
    ends = st.get("ends") or {}
    if len(ends) > 1:
        lines.append("    seen as   " + "; ".join(f"{k}: {clean(v)}" for k, v in ends.items()))
    if s.alternatives:
        lines.append(
            "    or maybe  "
            + "; ".join(f"{a.kind} by {a.actor} ({a.confidence:.0%})" for a in s.alternatives)
        )
    return lines


def format_text(d: Diagnosis) -> str:
    """The diagnosis for a person: sources and clocks, one block per stream, notes."""
    lines: list[str] = []
    for src in d.sources:
        skew = f", residual skew {src.residual_skew * 1000:.0f} ms" if src.residual_skew is not None else ""
        shift = f", shifted {src.offset:+.3f} s" if src.offset else ""
        lines.append(
            f"source  {src.name:8} {clean(src.path)}  ({src.observations} observations, {src.clock}{shift}{skew})"
        )
        for w in src.warnings[:3]:
            lines.append(f"        warning: {clean(w)}")
    lines.append("")
    first = d.first_abnormal
    for s in d.streams:
        block = _stream_block(s)
        if first is not None and s.id == first.id:
            block[0] += "  <- first fault"
        lines.extend(block)
        lines.append("")
    if not d.streams:
        lines.append("No streams found.")
    for n in d.notes:
        lines.append(f"note: {clean(n)}")
    lines.append(d.counts_sentence() + ".")
    return "\n".join(lines)


@click.command("diagnose")
@evidence_options
@click.option("--json", "as_json", is_flag=True, help="Print the diagnosis as JSON (docs/diagnosis.md).")
@click.option(
    "--fail-on",
    type=click.Choice(["abnormal", "never"]),
    default="never",
    show_default=True,
    help="Exit 1 when a stream ended by a fault, not as expected (for CI).",
)
def diagnose_command(as_json: bool, fail_on: str, **kwargs: Any) -> None:
    """Name the root cause of every stream's end.

    CAPTURE files are tearline captures (one per leg, for example); add any
    browser or proxy evidence you have. With only a NetLog, the NetLog alone
    is diagnosed.
    """
    diagnosis = diagnosis_from_options(**kwargs)
    if as_json:
        click.echo(json.dumps(diagnosis.to_dict(), indent=2, allow_nan=False, default=str))
    else:
        click.echo(format_text(diagnosis))
    if fail_on == "abnormal" and any(s.abnormal for s in diagnosis.streams):
        click.get_current_context().exit(1)
