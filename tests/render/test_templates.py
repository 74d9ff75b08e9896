"""Template lookup (overrides, default: prefix) and errors that name file and line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from digest.config import Settings
from digest.errors import RenderCheckError, TemplateError
from digest.models import Edition, Section
from digest.render import Renderer, default_templates_dir
from digest.render.templates import autoescape_for


def write(root: Path, name: str, text: str) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def one_list(
    section_builders: dict[str, Callable[[], Section]], make_edition: Callable[..., Edition]
) -> Edition:
    return make_edition([section_builders["weekly_list"]()])


def test_default_templates_dir_is_the_checkout_folder() -> None:
    found = default_templates_dir()
    assert (found / "email" / "base.mjml.j2").is_file()
    assert (found / "web" / "base.html.j2").is_file()


def test_autoescape_on_for_markup_off_for_text() -> None:
    for name in ("email/base.mjml.j2", "web/base.html.j2", "web/feed.xml.j2", "x.mjml"):
        assert autoescape_for(name)
    assert not autoescape_for("email/base.txt.j2")
    assert not autoescape_for("default:social/bluesky/summary.txt.j2")


def test_override_replaces_one_section_template(
    tmp_path: Path, make_settings: Callable[..., Settings], one_list: Edition
) -> None:
    write(
        tmp_path / "tpl",
        "email/sections/weekly_list.mjml.j2",
        '{% extends "email/section.mjml.j2" %}{% block body %}<mj-text>'
        "{% for item in section.items %}<p>LOCAL: {{ item.title }}</p>{% endfor %}"
        "</mj-text>{% endblock %}",
    )
    rendered = Renderer(make_settings(templates_dir=str(tmp_path / "tpl"))).email(one_list)
    assert "LOCAL: Bus drivers in Harbor City vote to authorize a strike" in rendered.html
    assert "<blockquote" not in rendered.html  # the default list markup is gone
    assert "* Bus drivers" in rendered.text  # the text template was not overridden


def test_override_can_extend_the_default(
    tmp_path: Path, make_settings: Callable[..., Settings], one_list: Edition
) -> None:
    write(
        tmp_path / "tpl",
        "email/sections/weekly_list.mjml.j2",
        '{% extends "default:email/sections/weekly_list.mjml.j2" %}{% block body %}'
        "<mj-text><p>Sponsored by Local 7</p></mj-text>{{ super() }}{% endblock %}",
    )
    rendered = Renderer(make_settings(templates_dir=str(tmp_path / "tpl"))).email(one_list)
    assert "Sponsored by Local 7" in rendered.html
    assert "<blockquote" in rendered.html  # the default body is still there
    assert rendered.html.index("Sponsored") < rendered.html.index("Bus drivers")


def test_jinja_syntax_error_names_template_and_line(
    tmp_path: Path, make_settings: Callable[..., Settings], one_list: Edition
) -> None:
    write(tmp_path / "tpl", "email/sections/weekly_list.mjml.j2", "<mj-text>\nok\n{% if %}\n")
    with pytest.raises(TemplateError) as caught:
        Renderer(make_settings(templates_dir=str(tmp_path / "tpl"))).email(one_list)
    message = str(caught.value)
    assert "email/sections/weekly_list.mjml.j2" in message
    assert "line 3" in message


def test_undefined_variable_names_template_and_line(
    tmp_path: Path, make_settings: Callable[..., Settings], one_list: Edition
) -> None:
    write(
        tmp_path / "tpl",
        "email/sections/weekly_list.mjml.j2",
        '{% extends "email/section.mjml.j2" %}\n{% block body %}\n<mj-text>\n'
        "{{ section.no_such_field }}\n</mj-text>\n{% endblock %}\n",
    )
    with pytest.raises(TemplateError) as caught:
        Renderer(make_settings(templates_dir=str(tmp_path / "tpl"))).email(one_list)
    message = str(caught.value)
    assert "weekly_list.mjml.j2, line 4" in message
    assert "no_such_field" in message


def test_invalid_mjml_names_template_and_line(
    tmp_path: Path, make_settings: Callable[..., Settings], one_list: Edition
) -> None:
    write(
        tmp_path / "tpl",
        "email/sections/weekly_list.mjml.j2",
        '{% extends "email/section.mjml.j2" %}{% block body %}\n'
        "<mj-text><p>fine</p></mj-text>\n<mj-text>stray </p> closing tag</mj-text>\n"
        "{% endblock %}",
    )
    renderer = Renderer(make_settings(templates_dir=str(tmp_path / "tpl")))
    with pytest.raises(TemplateError) as caught:
        renderer.email(one_list)
    message = str(caught.value)
    assert "email/base.mjml.j2" in message
    source = renderer.render_template("email/base.mjml.j2", **_email_context(renderer, one_list))
    bad_line = next(n for n, line in enumerate(source.splitlines(), 1) if "stray </p>" in line)
    # MRML reports where it stopped (a later line); the stray tag's own line is named too
    assert "of the MJML it produced" in message
    assert f"probably caused by line {bad_line}:" in message
    assert "stray </p> closing tag" in message  # the offending line is quoted


def test_unclosed_mjml_tag_names_a_line(
    tmp_path: Path, make_settings: Callable[..., Settings], one_list: Edition
) -> None:
    write(
        tmp_path / "tpl",
        "email/sections/weekly_list.mjml.j2",
        '{% extends "email/section.mjml.j2" %}{% block body %}\n'
        "<mj-text><p>never closed</p>\n{% endblock %}",
    )
    with pytest.raises(TemplateError) as caught:
        Renderer(make_settings(templates_dir=str(tmp_path / "tpl"))).email(one_list)
    assert "of the MJML it produced" in str(caught.value)
    assert "line " in str(caught.value)


def test_unknown_mjml_tag_fails_the_check(
    tmp_path: Path, make_settings: Callable[..., Settings], one_list: Edition
) -> None:
    write(
        tmp_path / "tpl",
        "email/sections/weekly_list.mjml.j2",
        '{% extends "email/section.mjml.j2" %}{% block body %}<mj-txt>typo</mj-txt>{% endblock %}',
    )
    with pytest.raises(RenderCheckError, match="MJML tag left"):
        Renderer(make_settings(templates_dir=str(tmp_path / "tpl"))).email(one_list)


def test_image_without_alt_and_missing_footer_fail_the_checks(
    tmp_path: Path, make_settings: Callable[..., Settings], one_list: Edition
) -> None:
    write(
        tmp_path / "tpl",
        "email/base.mjml.j2",
        '{% extends "default:email/base.mjml.j2" %}{% block footer %}<mj-section><mj-column>'
        '<mj-text><img src="https://cdn.example.net/x.png"></mj-text>'
        "</mj-column></mj-section>{% endblock %}",
    )
    with pytest.raises(RenderCheckError) as caught:
        Renderer(make_settings(templates_dir=str(tmp_path / "tpl"))).email(one_list)
    message = str(caught.value)
    assert "image without alt text: https://cdn.example.net/x.png" in message
    assert "HTML part lacks the postal address" in message
    assert "HTML part lacks the unsubscribe link" in message


def list_body_renderer(
    tmp_path: Path, make_settings: Callable[..., Settings], markup: str
) -> Renderer:
    """A renderer whose weekly list section is just ``markup`` in an mj-text."""
    write(
        tmp_path / "tpl",
        "email/sections/weekly_list.mjml.j2",
        '{% extends "email/section.mjml.j2" %}{% block body %}<mj-text>'
        f"{markup}</mj-text>{{% endblock %}}",
    )
    return Renderer(make_settings(templates_dir=str(tmp_path / "tpl")))


def test_capital_tags_are_checked_too(
    tmp_path: Path, make_settings: Callable[..., Settings], one_list: Edition
) -> None:
    renderer = list_body_renderer(
        tmp_path,
        make_settings,
        '<P>Hi</P><IMG SRC="https://cdn.example.net/y.png" /><SCRIPT>x()</SCRIPT>',
    )
    with pytest.raises(RenderCheckError) as caught:
        renderer.email(one_list)
    message = str(caught.value)
    assert "image without alt text: https://cdn.example.net/y.png" in message
    assert "<script> element in the email" in message


def test_capital_tags_with_nothing_wrong_pass(
    tmp_path: Path, make_settings: Callable[..., Settings], one_list: Edition
) -> None:
    renderer = list_body_renderer(
        tmp_path,
        make_settings,
        '<P>Hi <B>there</B></P><IMG SRC="https://cdn.example.net/y.png" ALT="A picture" />',
    )
    assert "there" in renderer.email(one_list).html


def test_oversized_email_fails_with_its_size(
    settings: Settings,
    section_builders: dict[str, Callable[[], Section]],
    make_edition: Callable[..., Edition],
) -> None:
    section = section_builders["weekly_list"]()
    section.items = section.items * 150
    with pytest.raises(RenderCheckError, match=r"HTML is \d+\.\d KB, over the 100 KB limit"):
        Renderer(settings).email(make_edition([section]))


def _email_context(renderer: Renderer, edition: Edition) -> dict[str, object]:
    return renderer._email_context(edition)


def test_attribute_lookup_keeps_jinja_rules(
    tmp_path: Path, make_settings: Callable[..., Settings]
) -> None:
    """``a.b`` reads an attribute, else a key; nested lookups, loop filters, macros and
    map(attribute=) all see the same values; a missing name still fails by line."""
    write(
        tmp_path / "tpl",
        "probe.txt.j2",
        "{{ d.k }}|{{ o.inner.n }}|{{ d.k is defined }}|{{ o.nope is defined }}\n"
        "{% for x in o.items if x > o.inner.n - 2 %}{{ x }}{% endfor %}|"
        "{% macro show(p) %}{{ p.inner.n }}{% endmacro %}{{ show(o) }}|"
        "{{ [o, o] | map(attribute='inner.n') | join(',') }}",
    )
    write(tmp_path / "tpl", "broken.txt.j2", "{{ o.inner.n }}\n\n{{ o.nope }}")

    class Inner:
        n = 3

    class Outer:
        inner = Inner()
        items = (1, 2, 3, 4)

    renderer = Renderer(make_settings(templates_dir=str(tmp_path / "tpl")))
    text = renderer.render_template("probe.txt.j2", d={"k": "v"}, o=Outer())
    assert text == "v|3|True|False\n234|3|3,3"
    with pytest.raises(TemplateError) as caught:
        renderer.render_template("broken.txt.j2", o=Outer())
    assert "broken.txt.j2, line 3" in str(caught.value)
    assert "has no attribute 'nope'" in str(caught.value)
