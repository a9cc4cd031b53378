// The chat page. The header link to the other domain is a plain <a href>, as in the real app; its target
// comes from the server's environment at request time (TEARLINE_LINK_URL), so one build serves any port.
import Chat from "./chat";

export const dynamic = "force-dynamic";

export default function Page() {
  const link = process.env.TEARLINE_LINK_URL || "/";
  return (
    <main>
      <header style={{ padding: "8px 16px", borderBottom: "1px solid #ccc" }}>
        <strong>tearline lab</strong>{" "}
        <a id="docs-link" href={link}>
          Docs
        </a>
      </header>
      <Chat />
    </main>
  );
}
