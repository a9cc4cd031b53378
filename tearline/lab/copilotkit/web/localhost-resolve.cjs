// Loaded with `node --require`: resolve every *.localhost name to 127.0.0.1 in this Node process, as
// Chromium does (and as RFC 6761 asks), so the runtime can reach Caddy's ai.localhost site by name
// (Host header and TLS SNI intact) on machines whose resolver knows only "localhost".
const dns = require("node:dns");

const original = dns.lookup;
dns.lookup = function lookup(hostname, options, callback) {
  if (typeof hostname === "string" && hostname.toLowerCase().endsWith(".localhost")) {
    if (typeof options === "function") {
      callback = options;
      options = {};
    }
    const all = typeof options === "object" && options !== null && options.all;
    if (all) {
      process.nextTick(callback, null, [{ address: "127.0.0.1", family: 4 }]);
    } else {
      process.nextTick(callback, null, "127.0.0.1", 4);
    }
    return {};
  }
  return original.apply(this, arguments);
};
