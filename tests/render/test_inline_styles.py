"""Styles written inline by the templates and the renderer (no CSS inliner by default)."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from digest.config import Settings
from digest.errors import TemplateError
from digest.models import Edition, Section
from digest.render import Renderer
from digest.render.filters import wrap

LINK = 'style="color:#0b4f8a"'


def write(root: Path, name: str, text: str) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def list_section(section_builders: dict[str, Callable[[], Section]]) -> Section:
    return section_builders["weekly_list"]()


def test_item_html_gets_the_email_styles_by_context(
    settings: Settings, list_section: Section, make_edition: Callable[..., Edition]
) -> None:
    first, second = list_section.items[:2]
    first.summary = '<p>One <a href="https://a.example/x">link</a></p><p>Two</p>'
    second.summary = (
        '<p>Out</p><blockquote><p>Nested</p></blockquote><img src="https://c.example/i.png">'
    )
    html = Renderer(settings).email(make_edition([list_section])).html
    # the list quotes each summary: its paragraphs take the quoted style
    assert '<p style="margin:0 0 6px">One <a href="https://a.example/x"' in html
    assert re.search(r'<a href="https://a.example/x"[^>]*style="color:#0b4f8a">link</a>', html)
    assert '<p style="margin:0 0 6px">Nested</p>' in html
    assert '<blockquote style="margin:6px 0;padding-left:14px;' in html
    assert re.search(
        r'<img src="https://c.example/i.png" alt="" style="max-width:100%;height:auto"', html
    )


def test_paragraphs_outside_quotes_get_the_plain_style(
    settings: Settings,
    section_builders: dict[str, Callable[[], Section]],
    make_edition: Callable[..., Edition],
) -> None:
    wins = section_builders["worker_wins"]()
    wins.items[0].summary = "<p>Raises</p><blockquote><p>In a quote</p></blockquote><p>After</p>"
    html = Renderer(settings).email(make_edition([wins])).html
    assert '<p style="margin:0 0 10px">Raises</p>' in html
    assert '<p style="margin:0 0 6px">In a quote</p>' in html
    assert '<p style="margin:0 0 10px">After</p>' in html


def test_bare_paragraphs_each_get_the_style_of_their_place(
    settings: Settings,
    section_builders: dict[str, Callable[[], Section]],
    make_edition: Callable[..., Edition],
) -> None:
    wins, listed = section_builders["worker_wins"](), section_builders["weekly_list"]()
    wins.items[0].summary = listed.items[0].summary = "<p>One</p><p>Two</p>"
    html = Renderer(settings).email(make_edition([wins, listed])).html
    assert '<p style="margin:0 0 10px">One</p><p style="margin:0 0 10px">Two</p>' in html
    assert '<p style="margin:0 0 6px">One</p><p style="margin:0 0 6px">Two</p>' in html  # quoted


def test_the_same_untrusted_html_twice_is_cleaned_every_time(
    settings: Settings, list_section: Section, make_edition: Callable[..., Edition]
) -> None:
    bad = '<p onclick="x()">Hi<script>steal()</script><img src="https://c.example/p.png"></p>'
    for entry in list_section.items:
        entry.summary = bad
    rendered = Renderer(settings).email(make_edition([list_section]))
    assert rendered.html.count("Hi<img") == len(list_section.items)
    assert "onclick" not in rendered.html and "steal" not in rendered.html
    assert "steal" not in rendered.text


def test_default_markup_needs_no_css_inliner(settings: Settings, full_edition: Edition) -> None:
    renderer = Renderer(settings)
    rendered = renderer.email(full_edition)
    css = str(renderer.env.get_template("email/inline_styles.j2").module.class_rules)
    assert "p.meta" in css  # the class rules for overrides are there ...
    rule_classes = set(re.findall(r"^\w*\.([\w-]+)", css, re.M))
    used = {c for attr in re.findall(r' class="([^"]*)"', rendered.html) for c in attr.split()}
    assert rule_classes and not rule_classes & used  # ... and the default markup uses none
    assert 'inline="inline"' not in rendered.mjml  # nothing to take out of the MJML


def test_override_markup_gets_the_class_rules_and_its_own_inline_block(
    tmp_path: Path,
    make_settings: Callable[..., Settings],
    list_section: Section,
    make_edition: Callable[..., Edition],
) -> None:
    """class_rules (email/inline_styles.j2) and an override's own inline block both reach
    css-inline when the override's markup uses their classes."""
    write(
        tmp_path / "tpl",
        "email/sections/weekly_list.mjml.j2",
        '{% extends "email/section.mjml.j2" %}{% block body %}<mj-text>'
        '<p class="meta">From class_rules</p><p class="shout">From the block</p>'
        "</mj-text>{% endblock %}",
    )
    write(
        tmp_path / "tpl",
        "email/styles.mjml.j2",
        '{% include "default:email/styles.mjml.j2" %}\n'
        '<mj-style inline="inline">\np.shout { font-weight: 900; }\n</mj-style>\n',
    )
    renderer = Renderer(make_settings(templates_dir=str(tmp_path / "tpl")))
    html = renderer.email(make_edition([list_section])).html
    assert re.search(r'<p style="[^"]*color:#555b66[^"]*">From class_rules</p>', html)
    assert '<p style="font-weight:900">From the block</p>' in html
    assert "p.shout" not in html  # inlined, not left in the head


def test_a_deployment_restyles_templates_and_item_html(
    tmp_path: Path,
    make_settings: Callable[..., Settings],
    list_section: Section,
    make_edition: Callable[..., Edition],
) -> None:
    defaults = Path(__file__).parents[2] / "templates" / "email" / "inline_styles.j2"
    source = defaults.read_text(encoding="utf-8")
    source = source.replace("#0b4f8a", "#aa0000")
    write(tmp_path / "tpl", "email/inline_styles.j2", source)
    list_section.items[0].summary = '<p><a href="https://a.example/">in the summary</a></p>'
    settings = make_settings(templates_dir=str(tmp_path / "tpl"))
    html = Renderer(settings).email(make_edition([list_section])).html
    assert LINK not in html and "solid #0b4f8a" not in html
    # the section title (css-inline may write its attributes in another order)
    assert re.search(r'<h2\b[^>]*\bstyle="[^"]*color:#aa0000', html)
    assert re.search(r'style="color:#aa0000">in the summary</a>', html)


def test_styles_file_missing_a_name_is_a_clear_error(
    tmp_path: Path,
    make_settings: Callable[..., Settings],
    list_section: Section,
    make_edition: Callable[..., Edition],
) -> None:
    write(tmp_path / "tpl", "email/inline_styles.j2", '{% set link = "color:red" %}\n')
    settings = make_settings(templates_dir=str(tmp_path / "tpl"))
    with pytest.raises(TemplateError, match=r"email/inline_styles.j2 does not set p, quoted_p"):
        Renderer(settings).email(make_edition([list_section]))


def test_override_using_the_macros_renders_like_the_default(
    tmp_path: Path,
    make_settings: Callable[..., Settings],
    section_builders: dict[str, Callable[[], Section]],
    make_edition: Callable[..., Edition],
) -> None:
    write(
        tmp_path / "tpl",
        "email/sections/in_the_states.mjml.j2",
        '{% extends "email/section.mjml.j2" %}{% block body %}<mj-text>\n'
        "{% for group in section.groups %}{{ m.group_heading(group) }}\n"
        "{% for item in group.items %}{{ m.story(item) }}{% endfor %}{% endfor %}"
        "</mj-text>{% endblock %}",
    )
    edition = make_edition([section_builders["in_the_states"]()])
    custom = Renderer(make_settings(templates_dir=str(tmp_path / "tpl"))).email(edition).html
    # the defaults through the same path: with a templates_dir, css-inline runs (and
    # re-serialises the document) whether or not the override uses class_rules
    (tmp_path / "none").mkdir()
    default = Renderer(make_settings(templates_dir=str(tmp_path / "none"))).email(edition).html

    def squeeze(html: str) -> str:
        return re.sub(r"\s+", " ", html)

    assert squeeze(custom) == squeeze(default)


@given(
    st.lists(st.text(alphabet="abcdefghij", min_size=1, max_size=30), max_size=40),
    st.integers(min_value=8, max_value=80),
    st.sampled_from(["", "  ", "  > "]),
)
def test_wrap_fills_lines_like_textwrap(words: list[str], width: int, prefix: str) -> None:
    text = " ".join(words)
    expected = textwrap.fill(
        text,
        width,
        initial_indent=prefix,
        subsequent_indent=prefix,
        break_long_words=False,
        break_on_hyphens=False,
    )
    assert wrap(text, width, prefix) == (expected if words else "")


def test_item_html_cannot_use_the_class_rules(
    settings: Settings, list_section: Section, make_edition: Callable[..., Edition]
) -> None:
    """Classes in untrusted HTML are dropped, so only a deployment's own templates can use
    class_rules (without overrides the renderer skips css-inline altogether)."""
    list_section.items[0].summary = '<p class="meta">Styled by a feed?</p>'
    html = Renderer(settings).email(make_edition([list_section])).html
    assert 'class="meta"' not in html
    assert '<p style="margin:0 0 6px">Styled by a feed?</p>' in html


def test_text_override_using_the_macros_reads_like_the_default(
    tmp_path: Path,
    make_settings: Callable[..., Settings],
    settings: Settings,
    section_builders: dict[str, Callable[[], Section]],
    make_edition: Callable[..., Edition],
) -> None:
    """The text macros (``m.post``, ``m.story``) are imported when first called, with the
    render's context, also where the layout (an override) does not provide ``m``."""
    write(
        tmp_path / "tpl",
        "email/sections/in_the_states.txt.j2",
        '{% extends "email/section.txt.j2" %}{% block body %}'
        "{% for group in section.groups %}\n"
        "{{ group.heading | upper }}{% if group.url | safe_url %} ({{ group.url }}){% endif %}"
        "\n\n\n{% for item in group.items %}{{ m.story(item) }}\n{% endfor %}{% endfor %}"
        "{% endblock %}",
    )
    write(
        tmp_path / "tpl",
        "email/base.txt.j2",
        "{{ org.name }}\n{% for section in edition.sections %}\n\n"
        '{% include "email/sections/" ~ section.template ~ ".txt.j2" %}{% endfor %}\n'
        "{{ org.postal_address }}\nUnsubscribe: {{ unsubscribe_url }}\n",
    )
    edition = make_edition([section_builders["in_the_states"]()])
    custom = Renderer(make_settings(templates_dir=str(tmp_path / "tpl"))).email(edition).text
    default = Renderer(settings).email(edition).text
    body = default[default.index("IN THE STATES") : default.index("\n--\n")].strip()

    def lines(text: str) -> str:  # blank lines are the layout's business
        return re.sub(r"\n+", "\n", text)

    assert lines(body) in lines(custom)
