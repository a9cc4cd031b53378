"""``tearline explain``: what a Chrome error, net error, close code or console text means."""
