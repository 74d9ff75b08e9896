"""digest.sanitize: what untrusted HTML may keep on its way into an email."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from digest.sanitize import excerpt, plain_text, sanitize_html, strip_tracking


def test_scripts_handlers_and_javascript_urls_are_removed() -> None:
    dirty = (
        '<p onclick="steal()" style="position:fixed">Hi <b>there</b>'
        '<a href="javascript:alert(1)">bad</a> <a href="JaVaScRiPt:alert(2)">bad2</a>'
        '<a href="data:text/html,x">data</a> <a href="mailto:org@example.org">mail</a>'
        '<a href="https://example.org/x" target="_blank">ok</a></p>'
        "<script>alert('x')</script><style>p{color:red}</style>"
        '<iframe src="https://evil.example/"><p>inside</p></iframe>'
        '<form action="https://evil.example/"><input name="pw"></form><!-- comment -->'
    )
    clean = sanitize_html(dirty)
    for bad in ("onclick", "style", "javascript", "JaVaScRiPt", "data:", "script", "alert",
                "iframe", "inside", "form", "input", "comment", "target"):  # fmt: skip
        assert bad not in clean, bad
    assert "<b>there</b>" in clean
    assert '<a href="mailto:org@example.org" rel="noopener noreferrer">mail</a>' in clean
    assert '<a href="https://example.org/x" rel="noopener noreferrer">ok</a>' in clean


def test_tracking_pixels_are_dropped_and_real_images_kept() -> None:
    html = (
        '<img src="https://blog.example.org/photo.jpg" alt="Picket line" width="600">'
        '<img src="https://mail.example.org/t.gif" width="1" height="1">'
        '<img src="https://mail.example.org/t2.gif" width="1px" height="0">'
        '<img src="https://feeds.feedburner.com/~r/blog/~4/abc">'
        '<img src="https://pixel.wp.com/g.gif?blog=1">'
        '<img src="https://stats.example.org/open.gif?id=9">'
        '<img src="javascript:alert(1)">'
        '<img alt="no source">'
    )
    clean = sanitize_html(html)
    assert clean == '<img src="https://blog.example.org/photo.jpg" alt="Picket line" width="600">'


def test_relative_urls_resolve_against_a_base_or_are_dropped() -> None:
    html = '<a href="/join">Join</a><img src="img/a.jpg" alt="a">'
    based = sanitize_html(html, base_url="https://union.example.org/news/post")
    assert 'href="https://union.example.org/join"' in based
    assert 'src="https://union.example.org/news/img/a.jpg"' in based
    assert "href" not in sanitize_html('<a href="/join">Join</a>')


def test_plain_text_decodes_entities_and_collapses_whitespace() -> None:
    html = "<h2>Title &amp; more</h2>\n<p>First   line<br>second\tline</p><script>x()</script>"
    assert plain_text(html) == "Title & more First line second line"
    assert plain_text(html, paragraphs=True) == "Title & more\n\nFirst line\n\nsecond line"
    assert plain_text("") == ""


def test_excerpt_cuts_at_a_word_boundary() -> None:
    text = "<p>Members of the local voted overwhelmingly to authorize a strike.</p>"
    assert excerpt(text, 200) == "Members of the local voted overwhelmingly to authorize a strike."
    short = excerpt(text, 30)
    assert short == "Members of the local voted…"
    assert len(short) <= 30


@given(st.text(max_size=300), st.integers(min_value=5, max_value=120))
def test_excerpt_never_exceeds_its_limit(text: str, limit: int) -> None:
    assert len(excerpt(text, limit)) <= limit


@given(st.text(max_size=300))
def test_sanitized_html_never_keeps_script_or_handlers(text: str) -> None:
    clean = sanitize_html(f"<div onmouseover='x'>{text}<script>{text}</script></div>")
    assert "<script" not in clean.lower()
    assert not re.search(r"<[^>]*\son\w+\s*=", clean, re.IGNORECASE)  # no handler attributes


BASE = "https://union.example.org/news/post"


def test_relative_urls_resolve_like_a_browser() -> None:
    def href(link: str, base: str | None = BASE) -> str | None:
        match = re.search(r'href="([^"]*)"', sanitize_html(f'<a href="{link}">x</a>', base))
        return match.group(1) if match else None

    assert href("../about") == "https://union.example.org/about"
    assert href("?page=2") == "https://union.example.org/news/post?page=2"
    assert href("#top") == "https://union.example.org/news/post#top"
    assert href("//other.example.org/x") == "https://other.example.org/x"
    assert href(" /join us ") == "https://union.example.org/join%20us"
    assert href("/a\tb") == "https://union.example.org/ab"  # tabs and newlines are noise
    assert href("\\evil.example.org") == "https://union.example.org/evil.example.org"
    assert href("/x", "HTTP://Union.Example.org") == "http://union.example.org/x"
    assert href("?q=1", "https://union.example.org") == "https://union.example.org/?q=1"
    assert href("https://elsewhere.example.org/a") == "https://elsewhere.example.org/a"
    assert href("/join", None) is None


def test_the_same_cleaner_serves_items_with_different_bases() -> None:
    first = sanitize_html('<a href="/a">a</a>', "https://one.example.org/")
    nothing = sanitize_html('<a href="/a">a</a>')
    second = sanitize_html('<img src="b.jpg" alt="b">', "https://two.example.org/x/")
    assert 'href="https://one.example.org/a"' in first
    assert "href" not in nothing
    assert second == '<img src="https://two.example.org/x/b.jpg" alt="b">'


def test_dangerous_schemes_stay_refused_with_a_base() -> None:
    dirty = (
        '<a href="javascript:alert(1)">a</a><a href=" JaVaScRiPt:alert(2)">b</a>'
        '<a href="java&#09;script:alert(3)">c</a><a href="&#106;avascript:alert(4)">d</a>'
        '<a href="data:text/html,x">e</a><img src="data:image/png;base64,AAAA" alt="f">'
        '<a href="vbscript:x">g</a><a href="file:///etc/passwd">h</a>'
    )
    clean = sanitize_html(dirty, base_url=BASE)
    assert "href" not in clean and "src" not in clean
    for bad in ("javascript", "data:", "vbscript", "file:", "alert"):
        assert bad not in clean.lower(), bad


def test_a_base_that_is_not_http_never_leaks_into_links() -> None:
    """An entry link is untrusted too: `#top` against `javascript:...` must not become
    a script URL, and a malformed base must not break the feed."""
    html = '<a href="#top">top</a><a href="/x">x</a><img src="a.jpg" alt="a">'
    for base in ("javascript:alert(1)", "data:text/html,x", "file:///etc/passwd",
                 "mailto:a@example.org", "not a url", "https://[::1/"):  # fmt: skip
        clean = sanitize_html(html, base_url=base)
        assert clean == '<a rel="noopener noreferrer">top</a><a rel="noopener noreferrer">x</a>'


@given(st.text(max_size=60))
def test_resolved_links_are_only_ever_http_or_https(reference: str) -> None:
    for base in (BASE, "javascript:alert(1)//"):
        clean = sanitize_html(f"<a href='{reference.replace(chr(39), '')}'>x</a>", base)
        for link in re.findall(r'href="([^"]*)"', clean):
            assert re.match(r"(?i)(https?:|mailto:)", link), link


def test_hidden_zero_size_and_known_tracker_images_are_dropped() -> None:
    html = (
        '<img src="https://blog.example.org/a.jpg" alt="kept" width="1080" height="720">'
        '<img src="https://stats.example.net/x.gif" style="display: none">'
        '<img src="https://stats.example.net/y.gif" style="width:1px;height:1px;border:0">'
        '<img src="https://stats.example.net/z.gif" width="0">'
        '<img src="https://stats.example.net/h.gif" hidden>'
        '<img src="https://medium.com/_/stat?event=post.clientViewed">'
        '<img src="https://stats.metrolabor.example.org/count.php?id=3">'
    )
    # the kept picture loses its fixed size: wider than the column, it scales instead
    assert sanitize_html(html) == '<img src="https://blog.example.org/a.jpg" alt="kept">'
    small = sanitize_html('<img src="https://b.example.org/s.jpg" width="300" height="200">')
    assert small == '<img src="https://b.example.org/s.jpg" width="300" height="200">'


def test_cite_keeps_only_web_addresses() -> None:
    html = (
        '<blockquote cite="javascript:alert(1)">a</blockquote>'
        '<q cite=" JaVaScRiPt:alert(2)">b</q>'
        '<blockquote cite="/sources/1">c</blockquote>'
        '<q cite="https://union.example.org/speech">d</q>'
    )
    clean = sanitize_html(html, base_url="https://union.example.org/news/")
    assert "javascript" not in clean.lower()
    assert "<blockquote>a</blockquote><q>b</q>" in clean
    assert '<blockquote cite="https://union.example.org/sources/1">c</blockquote>' in clean
    assert '<q cite="https://union.example.org/speech">d</q>' in clean


def test_tracking_parameters_and_share_and_ad_links_go() -> None:
    html = (
        '<p><a href="https://u.example.org/a?id=7&amp;utm_source=rss&amp;utm_medium=feed">'
        "story</a> "
        '<a href="https://medium.com/p/1?source=rss----abc---4">medium</a></p>'
        '<p><a href="https://www.facebook.com/sharer/sharer.php?u=x">Share on Facebook</a>'
        '<a href="http://feeds.feedburner.com/~ff/Blog?a=1"><img src="http://feeds.feedburner.com/~ff/Blog?d=1"></a>'
        '<a href="http://feedads.g.doubleclick.net/~a/x/0/da">ad</a></p>'
    )
    assert sanitize_html(html) == (
        '<p><a href="https://u.example.org/a?id=7" rel="noopener noreferrer">story</a> '
        '<a href="https://medium.com/p/1" rel="noopener noreferrer">medium</a></p>'
    )
    assert strip_tracking("https://x.org/p?a=1&fbclid=2#top") == "https://x.org/p?a=1#top"
    assert strip_tracking("https://x.org/p?utm_campaign=x") == "https://x.org/p"


def test_code_blocks_wrap() -> None:
    clean = sanitize_html("<pre class='x'><code>a very long line</code></pre>")
    assert clean.startswith('<pre style="white-space:pre-wrap;')
