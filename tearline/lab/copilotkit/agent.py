"""The lab's LangGraph agent, served over AG-UI (``ag-ui-langgraph`` on FastAPI/uvicorn), with a scripted model.

::

    python -m tearline.lab.copilotkit.agent --port 8000 --log agent.log --tokens 200 --interval 0.05

Routes: ``POST /agent`` (AG-UI: a ``RunAgentInput`` in, ``text/event-stream`` out; the URL CopilotKit's
``LangGraphHttpAgent`` is given), ``GET /agent/health``, and ``GET /docs`` (a plain page: the "other
domain" the chat's header link leads to).

The model is ``ScriptedChatModel``: a ``langchain-core`` chat model that streams ``tokens`` words, one every
``interval`` seconds, with no network and no weights. A user message containing ``tokens=N`` or
``interval=S`` overrides them for that run.

Every line of the log (``--log``) is one JSON object with ``t`` (epoch seconds) and ``event``:

- ``request`` (``path``, ``run_id``, ``thread_id``), ``response_start`` (``status``) and ``response_end``
  (``reason``: ``complete``, ``client_gone`` -- the HTTP client disconnected first --, ``cancelled`` or
  ``error``; ``events``: SSE events sent, ``bytes``), one per HTTP request;
- ``model_start`` (``call``, ``tokens``, ``interval``), ``token`` (``call``, ``n``) per token, and
  ``model_end`` (``call``, ``reason``: ``finished``, ``cancelled`` or ``closed``; ``tokens``: how many
  were produced).

So whether the back end kept generating after the user left is read off the log: tokens logged after a
``response_end`` with ``client_gone`` (``agent_log.py`` does this).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import re
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from ag_ui_langgraph import LangGraphAgent, add_langgraph_fastapi_endpoint
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, MessagesState, StateGraph

__all__ = ["AgentLog", "ScriptedChatModel", "build_app", "main"]

AGENT_NAME = "lab_agent"
AGENT_PATH = "/agent"

_WORDS = [
    "streaming",
    "tokens",
    "arrive",
    "one",
    "by",
    "one",
    "while",
    "the",
    "user",
    "watches",
    "the",
    "answer",
    "grow",
    "and",
    "nobody",
    "knows",
    "yet",
    "whether",
    "the",
    "connection",
    "will",
    "hold",
    "until",
    "the",
    "end",
    "of",
    "this",
    "long",
    "and",
    "carefully",
    "scripted",
    "reply",
]

_OVERRIDE = re.compile(r"\b(tokens|interval)=(\d+(?:\.\d+)?)")


class AgentLog:
    """JSON lines, one per event, flushed at once (a killed agent leaves a readable log)."""

    def __init__(self, path: Path | None) -> None:
        self._out: TextIO | None = path.open("a", encoding="utf-8") if path is not None else None
        self._lock = threading.Lock()

    def write(self, event: str, **fields: Any) -> None:
        if self._out is None:
            return
        line = json.dumps({"t": round(time.time(), 6), "event": event, **fields}, separators=(",", ":"))
        with self._lock:
            self._out.write(line + "\n")
            self._out.flush()


def _word(i: int) -> str:
    return _WORDS[i % len(_WORDS)] + " "


def _overrides(messages: list[BaseMessage], tokens: int, interval: float) -> tuple[int, float]:
    """``tokens=N`` / ``interval=S`` in the last human message override the defaults."""
    for message in reversed(messages):
        if message.type == "human":
            for name, value in _OVERRIDE.findall(str(message.content)):
                if name == "tokens":
                    tokens = int(float(value))
                else:
                    interval = float(value)
            break
    return tokens, interval


class ScriptedChatModel(BaseChatModel):  # type: ignore[misc,unused-ignore]
    """Streams ``tokens`` words, one every ``interval`` seconds; logs each one."""

    tokens: int = 40
    interval: float = 0.1
    log: Any = None  # AgentLog

    @property
    def _llm_type(self) -> str:
        return "tearline-scripted"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        text = "".join(str(chunk.message.content) for chunk in self._stream(messages, stop, run_manager))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        n, interval = _overrides(messages, self.tokens, self.interval)
        for i in range(n):
            time.sleep(interval)
            yield ChatGenerationChunk(message=AIMessageChunk(content=_word(i)))

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        log: AgentLog = self.log or AgentLog(None)
        n, interval = _overrides(messages, self.tokens, self.interval)
        call = next(_calls)
        log.write("model_start", call=call, tokens=n, interval=interval)
        produced, reason = 0, "finished"
        try:
            for i in range(n):
                await asyncio.sleep(interval)
                text = _word(i)
                produced += 1
                log.write("token", call=call, n=produced)
                chunk = ChatGenerationChunk(message=AIMessageChunk(content=text))
                if run_manager is not None:
                    await run_manager.on_llm_new_token(text, chunk=chunk)
                yield chunk
        except asyncio.CancelledError:
            reason = "cancelled"
            raise
        except GeneratorExit:
            reason = "closed"
            raise
        finally:
            log.write("model_end", call=call, reason=reason, tokens=produced)


_calls = itertools.count(1)


def build_graph(model: ScriptedChatModel) -> Any:
    """One node: the model answers the conversation."""

    async def chat(state: MessagesState) -> dict[str, list[BaseMessage]]:
        reply = await model.ainvoke(state["messages"])
        return {"messages": [reply]}

    graph = StateGraph(MessagesState)
    graph.add_node("chat", chat)
    graph.add_edge(START, "chat")
    graph.add_edge("chat", END)
    return graph.compile(checkpointer=InMemorySaver())


@dataclass
class _Exchange:
    """What the HTTP log knows about one request so far."""

    done: bool = False  # the response's last body message was sent
    gone: bool = False  # the client disconnected before that
    events: int = 0  # SSE events sent (blank-line separators)
    sent: int = 0  # response body bytes
    body: bytes = b""  # the request body (first MiB), for the run's ids
    logged: bool = False


class _HttpLog:
    """ASGI middleware: one ``request`` / ``response_start`` / ``response_end`` line per HTTP request."""

    def __init__(self, app: Any, log: AgentLog) -> None:
        self.app = app
        self.log = log

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = _Exchange()
        ids: dict[str, Any] = {}

        def log_request() -> None:
            if not state.logged:
                state.logged = True
                try:
                    body = json.loads(state.body or b"{}")
                except ValueError:
                    body = {}
                if isinstance(body, dict):
                    ids.update(run_id=body.get("runId"), thread_id=body.get("threadId"))
                self.log.write("request", method=scope["method"], path=scope["path"], **ids)

        async def logged_receive() -> dict[str, Any]:
            message: dict[str, Any] = await receive()
            if message["type"] == "http.request":
                if len(state.body) < 1 << 20:
                    state.body += message.get("body", b"")
                if not message.get("more_body"):
                    log_request()
            elif message["type"] == "http.disconnect" and not state.done:
                state.gone = True
            return message

        async def logged_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                log_request()
                self.log.write("response_start", status=message["status"], **ids)
            elif message["type"] == "http.response.body":
                body = message.get("body", b"")
                state.sent += len(body)
                state.events += body.count(b"\n\n")
                if not message.get("more_body"):
                    state.done = True
            await send(message)

        reason = "complete"
        try:
            await self.app(scope, logged_receive, logged_send)
        except asyncio.CancelledError:
            reason = "cancelled"
            raise
        except Exception:
            reason = "error"
            raise
        finally:
            if state.gone:
                reason = "client_gone"
            elif reason == "complete" and not state.done:
                reason = "incomplete"
            log_request()
            self.log.write("response_end", reason=reason, events=state.events, bytes=state.sent, **ids)


_DOCS = """<!doctype html><html><head><title>Docs</title></head>
<body><h1>Docs</h1><p>The other domain: the chat's header link leads here.</p></body></html>"""


def build_app(log: AgentLog, *, tokens: int = 40, interval: float = 0.1) -> Any:
    """The ASGI app: AG-UI endpoint, health, docs page, wrapped in the HTTP log."""
    model = ScriptedChatModel(tokens=tokens, interval=interval, log=log)
    app = FastAPI(title="tearline lab agent", docs_url=None, redoc_url=None, openapi_url=None)
    agent = LangGraphAgent(name=AGENT_NAME, description="tearline's scripted agent", graph=build_graph(model))
    add_langgraph_fastapi_endpoint(app, agent, AGENT_PATH)

    @app.get("/docs")  # type: ignore[untyped-decorator,unused-ignore]
    def docs() -> HTMLResponse:
        return HTMLResponse(_DOCS)

    return _HttpLog(app, log)


def main(argv: list[str] | None = None) -> int:
    import uvicorn

    parser = argparse.ArgumentParser(
        prog="python -m tearline.lab.copilotkit.agent", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--log", type=Path, default=None, help="JSON-lines log file (appended)")
    parser.add_argument("--tokens", type=int, default=40, help="tokens per answer")
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between tokens")
    parser.add_argument(
        "--keep-alive", type=float, default=5.0, help="seconds an idle keep-alive connection stays open"
    )
    args = parser.parse_args(argv)
    log = AgentLog(args.log)
    log.write("agent_start", port=args.port, tokens=args.tokens, interval=args.interval)
    app = build_app(log, tokens=args.tokens, interval=args.interval)
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
        timeout_keep_alive=int(args.keep_alive) if args.keep_alive >= 1 else 1,
    )
    log.write("agent_stop")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
