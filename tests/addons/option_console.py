"""Test addon: mitmproxy's own ``set`` command at run time, over HTTP (stands in for the console).

``GET /__set?name=N&value=V`` runs ``set N V`` (what ``:set N V`` does in mitmproxy's console)
and answers 200 ``ok`` or 400 with the refusal; ``GET /__get?name=N`` answers the option's value.
Other requests pass through untouched.
"""

from urllib.parse import parse_qs, urlsplit

from mitmproxy import ctx, exceptions, http


class OptionConsole:
    name = "test_option_console"

    def request(self, flow: http.HTTPFlow) -> None:
        url = urlsplit(flow.request.path)
        q = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        if url.path == "/__set":
            try:
                ctx.master.commands.call("set", q["name"], q["value"])
            except exceptions.CommandError as e:
                flow.response = http.Response.make(400, str(e).encode())
            else:
                flow.response = http.Response.make(200, b"ok")
        elif url.path == "/__get":
            flow.response = http.Response.make(200, repr(getattr(ctx.options, q["name"])).encode())


addons = [OptionConsole()]
