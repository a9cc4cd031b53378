import "@copilotkit/react-ui/styles.css";

export const metadata = { title: "tearline lab: CopilotKit chat" };

export default function RootLayout({ children }) {
  return (
    <html lang="en">
      <body style={{ margin: 0, fontFamily: "sans-serif" }}>{children}</body>
    </html>
  );
}
