from tearline.analysis.report.scrub import scrub, scrub_url


def test_scrub_blanks_secrets_but_keeps_their_names():
    s = scrub("GET /x?a=1&access_token=t0k&Password=pw Authorization: Bearer abcdefghijkl")
    assert "t0k" not in s and "pw" not in s.replace("Password", "") and "abcdefghijkl" not in s
    assert "access_token=[redacted]" in s and "Bearer [redacted]" in s and "a=1" in s


def test_scrub_shows_control_characters_and_bounds_length():
    assert scrub("a\x1b[31mb") == "a\\x1b[31mb"
    assert scrub("x" * 50, limit=10) == "x" * 10 + "… (40 more characters)"
    assert scrub(None) == ""


def test_scrub_url_removes_userinfo_and_secret_params():
    u = scrub_url("https://bob:hunter2@app.localhost/ws?sig=abc&room=1")
    assert "hunter2" not in u and "abc" not in u and "room=1" in u
    assert scrub_url(None) == "(no URL)"
