"use client";

import { CopilotKit } from "@copilotkit/react-core";
import { CopilotChat } from "@copilotkit/react-ui";

export default function Chat() {
  return (
    <CopilotKit runtimeUrl="/api/copilotkit" agent="lab_agent" showDevConsole={false}>
      <div style={{ height: "80vh" }}>
        <CopilotChat labels={{ title: "Lab agent", initial: "Ask me anything." }} />
      </div>
    </CopilotKit>
  );
}
