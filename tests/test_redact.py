"""Header and query-parameter redaction."""

from __future__ import annotations

from tearline.redact import DEFAULT_HEADERS, REDACTED, Redactor, redact_headers, redact_query, redact_url


def test_default_headers_redacted_case_insensitive_order_kept():
    hs = [("Authorization", "Bearer x"), ("accept", "*/*"), ("COOKIE", "a=b"), ("Set-Cookie", "c=d")]
    assert redact_headers(hs) == (
        ("Authorization", REDACTED),
        ("accept", "*/*"),
        ("COOKIE", REDACTED),
        ("Set-Cookie", REDACTED),
    )


def test_query_params_redacted_rest_untouched():
    assert (
        redact_query("a=1&Token=s3&b=%20x&key=k&flag") == f"a=1&Token={REDACTED}&b=%20x&key={REDACTED}&flag"
    )
    assert redact_query("") == ""


def test_url_redacts_params_and_userinfo():
    url = redact_url("https://user:pw@host:8443/p?access_token=abc&x=1#frag")
    assert "pw" not in url and "abc" not in url
    assert url == f"https://{REDACTED}@host:8443/p?access_token={REDACTED}&x=1#frag"


def test_redactor_option_syntax():
    assert Redactor.from_options("", "").headers == DEFAULT_HEADERS
    only = Redactor.from_options("X-A, x-b", "-")
    assert only.headers == ("x-a", "x-b") and only.params == ()
    plus = Redactor.from_options("+x-secret", "+sessionid")
    assert "authorization" in plus.headers and "x-secret" in plus.headers
    assert "token" in plus.params and "sessionid" in plus.params
    assert plus.url("/p?sessionid=1&token=2&q=3") == f"/p?sessionid={REDACTED}&token={REDACTED}&q=3"
