"""Untrusted strings are escaped; unsafe URLs never become links."""

from __future__ import annotations

import re
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

from markupsafe import Markup, escape

from digest.config import Settings
from digest.models import Edition, Section
from digest.render import Renderer


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.names.add(tag)


def tag_names(html: str) -> set[str]:
    parser = Tags()
    parser.feed(html)
    return parser.names


def test_script_in_titles_is_escaped(
    settings: Settings,
    section_builders: dict[str, Callable[[], Section]],
    make_edition: Callable[..., Edition],
) -> None:
    section = section_builders["weekly_list"]()
    section.items[0].title = "<script>alert(1)</script> Strike vote"
    section.title = "List <b>bold</b>"
    edition = make_edition([section], title="Weekly <script>x()</script>")
    renderer = Renderer(settings)
    rendered = renderer.email(edition)
    page = renderer.web_page(edition)
    for html in (rendered.html, page):
        assert "script" not in tag_names(html)
        assert "&lt;script&gt;alert(1)&lt;/script&gt; Strike vote" in html
        assert "List &lt;b&gt;bold&lt;/b&gt;" in html
    # the text part is plain text: shown as typed, never interpreted
    assert "<script>alert(1)</script> Strike vote" in rendered.text


def test_javascript_urls_are_not_links(
    settings: Settings,
    section_builders: dict[str, Callable[[], Section]],
    make_edition: Callable[..., Edition],
) -> None:
    wl = section_builders["weekly_list"]()
    wl.items[0].url = "javascript:alert(document.cookie)"
    states = section_builders["in_the_states"]()
    assert states.groups[0].items[0].post is not None
    from dataclasses import replace

    states.groups[0].items[0].post = replace(
        states.groups[0].items[0].post, post_url="JavaScript:evil()", avatar_url="data:x"
    )
    pa = section_builders["political_action"]()
    pa.data["campaign"]["cta_url"] = " javascript:void(0)"
    edition = make_edition([wl, states, pa])
    renderer = Renderer(settings)
    rendered = renderer.email(edition)
    for html in (rendered.html, renderer.web_page(edition)):
        assert "javascript:" not in html.lower()
        assert "data:x" not in html
        assert "Bus drivers in Harbor City vote to authorize a strike" in html  # title kept
    assert "javascript:" not in rendered.text.lower()
    assert "Email your senators" not in rendered.html  # no button without a safe URL


def test_item_html_is_cleaned_again(
    settings: Settings,
    section_builders: dict[str, Callable[[], Section]],
    make_edition: Callable[..., Edition],
) -> None:
    section = section_builders["weekly_list"]()
    first = section.items[0]
    first.summary = (
        '<p onclick="x()">Ok <img src="https://cdn.example.net/a.png"><script>bad()</script></p>'
    )
    rendered = Renderer(settings).email(make_edition([section]))
    assert "onclick" not in rendered.html and "bad()" not in rendered.html
    assert '<img src="https://cdn.example.net/a.png" alt=""' in rendered.html


def test_post_text_is_escaped_and_linked(
    settings: Settings,
    section_builders: dict[str, Callable[[], Section]],
    make_edition: Callable[..., Edition],
) -> None:
    from dataclasses import replace

    section = section_builders["in_the_states"]()
    item = section.groups[1].items[0]
    assert item.post is not None
    item.post = replace(item.post, text='<b>"Rally"</b> at https://rally.example.org/now.')
    html = Renderer(settings).email(make_edition([section])).html
    assert "&lt;b&gt;&#34;Rally&#34;&lt;/b&gt; at " in html
    assert re.search(
        r'<a href="https://rally.example.org/now"[^>]*>rally.example.org/now</a>\.', html
    )


def test_markup_inside_attributes_does_not_trip_the_checks(
    settings: Settings,
    section_builders: dict[str, Callable[[], Section]],
    make_edition: Callable[..., Edition],
) -> None:
    section = section_builders["weekly_list"]()
    first = section.items[0]
    first.summary = (
        '<p><img src="https://cdn.example.net/a.png" alt="<script>x</script> <mj-x>"></p>'
    )
    rendered = Renderer(settings).email(make_edition([section], title="<mj-text> & <iframe>"))
    assert "iframe" not in tag_names(rendered.html)
    assert "script" not in tag_names(rendered.html)


def test_template_output_escapes_as_markupsafe_does(
    tmp_path: Path, make_settings: Callable[..., Settings]
) -> None:
    """``{{ value }}`` in an HTML template gives what markupsafe.escape gives, for plain
    strings, Markup, numbers, None and objects with __html__; .txt templates never escape."""
    (tmp_path / "tpl").mkdir()
    (tmp_path / "tpl" / "probe.html.j2").write_text("{% for v in values %}[{{ v }}]{% endfor %}")
    (tmp_path / "tpl" / "probe.txt.j2").write_text("{% for v in values %}[{{ v }}]{% endfor %}")

    class Html:
        def __html__(self) -> str:
            return "<i>own</i>"

    values = ["a<b>&\"c'", Markup("<b>safe</b>"), 3, None, "plain", Html(), "ünï <ç>"]
    renderer = Renderer(make_settings(templates_dir=str(tmp_path / "tpl")))
    html = renderer.render_template("probe.html.j2", values=values)
    assert html == "".join(f"[{escape(v)}]" for v in values)
    text = renderer.render_template("probe.txt.j2", values=values[:5])
    assert text == "[a<b>&\"c'][<b>safe</b>][3][None][plain]"
