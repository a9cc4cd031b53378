// The CopilotKit runtime: one POST route; the agent is a LangGraph graph served over AG-UI (HTTP + SSE).
// TEARLINE_AGENT_URL (read at request time) is where the runtime reaches it: the agent itself, Caddy's
// ai.localhost site, or tearline's backend tap.
import {
  CopilotRuntime,
  ExperimentalEmptyAdapter,
  copilotRuntimeNextJSAppRouterEndpoint,
} from "@copilotkit/runtime";
import { LangGraphHttpAgent } from "@copilotkit/runtime/langgraph";

export const dynamic = "force-dynamic";

let endpoint = null;

function handler() {
  if (endpoint === null) {
    const url = process.env.TEARLINE_AGENT_URL || "http://127.0.0.1:8000/";
    const runtime = new CopilotRuntime({
      agents: { lab_agent: new LangGraphHttpAgent({ url }) },
    });
    endpoint = copilotRuntimeNextJSAppRouterEndpoint({
      runtime,
      serviceAdapter: new ExperimentalEmptyAdapter(),
      endpoint: "/api/copilotkit",
    });
  }
  return endpoint.handleRequest;
}

export const POST = (req) => handler()(req);
export const GET = (req) => handler()(req);
