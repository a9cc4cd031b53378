"""Checks shared by the report tests: parse a report page and assert it is
self-contained, script-free and escaped (engineer 7's tests only)."""

from __future__ import annotations

import base64
import hashlib
import io
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

import matplotlib.image as mpimg
from PIL import Image

HOSTILE = ("<script", "<img src=x", '<img src="x', "javascript:")  # as raw markup; escaped text is fine


@dataclass
class Page(HTMLParser):
    tags: list[tuple[str, dict[str, str | None]]] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    style: str = ""
    _in_style: bool = False

    def __post_init__(self) -> None:
        HTMLParser.__init__(self, convert_charrefs=True)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.style += data
        else:
            self.text.append(data)

    @property
    def body_text(self) -> str:
        return " ".join(" ".join(self.text).split())

    def attrs(self, tag: str) -> list[dict[str, str | None]]:
        return [a for t, a in self.tags if t == tag]


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    page.close()
    return page


def check_self_contained(html: str) -> Page:
    """Assert: CSP meta as documented, style allowed by its hash, no script or
    external reference, every image a decodable data: PNG. Returns the parsed page."""
    page = parse(html)
    csp = [
        a["content"]
        for a in page.attrs("meta")
        if (a.get("http-equiv") or "").lower() == "content-security-policy"
    ]
    assert len(csp) == 1, "exactly one CSP meta"
    policy = csp[0] or ""
    assert "default-src 'none'" in policy and "img-src data:" in policy and "script-src" not in policy
    digest = base64.b64encode(hashlib.sha256(page.style.encode()).digest()).decode()
    assert f"'sha256-{digest}'" in policy, "the inline stylesheet is allowed by its hash"
    assert not page.attrs("script") and not page.attrs("link") and not page.attrs("iframe")
    for tag, attrs in page.tags:
        for name, value in attrs.items():
            assert not name.startswith("on"), f"event handler attribute {name} on <{tag}>"
            if name in ("src", "href", "action", "srcset", "poster", "data"):
                assert (value or "").startswith("data:image/png;base64,"), (
                    f"<{tag} {name}> is not a data: image"
                )
    assert not re.search(r"url\(\s*['\"]?(?!data:)", page.style), "CSS references something outside the file"
    assert not re.search(r"(?i)(src|href|action)\s*=\s*['\"]?\s*https?://", html)
    assert not re.search(r"(?i)url\(\s*['\"]?\s*https?://", html)
    imgs = page.attrs("img")
    for a in imgs:
        data = base64.b64decode((a["src"] or "").split(",", 1)[1])
        Image.open(io.BytesIO(data)).verify()
        assert mpimg.imread(io.BytesIO(data), format="png").shape[0] > 50
    return page


def raw_markup_outside_images(html: str) -> list[str]:
    """Hostile markup that survived unescaped anywhere in the HTML source."""
    return [h for h in HOSTILE if h in html.lower()]
