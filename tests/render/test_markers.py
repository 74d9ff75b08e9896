"""Recipient markers survive Jinja, MJML and CSS inlining byte for byte."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from digest.config import Settings
from digest.models import Edition
from digest.render import Renderer, placeholders


def test_all_markers_survive_in_attributes_and_text(
    tmp_path: Path, make_settings: Callable[..., Settings], full_edition: Edition
) -> None:
    override = tmp_path / "tpl" / "email"
    override.mkdir(parents=True)
    (override / "base.mjml.j2").write_text(
        '{% extends "default:email/base.mjml.j2" %}\n'
        "{% block header %}{{ super() }}"
        '<mj-section><mj-column><mj-text><p class="intro">Hello {{ subscriber_name }},</p>'
        '<a href="{{ preferences_url }}" title="{{ subscriber_name }}">prefs</a>'
        "</mj-text></mj-column></mj-section>{% endblock %}\n",
        encoding="utf-8",
    )
    settings = make_settings(templates_dir=str(tmp_path / "tpl"))
    rendered = Renderer(settings).email(full_edition)
    for marker in placeholders.IN_TEMPLATES:
        assert marker in rendered.mjml
        assert marker in rendered.html
    assert f"Hello {placeholders.SUBSCRIBER_NAME}," in rendered.html
    assert f'title="{placeholders.SUBSCRIBER_NAME}"' in rendered.html
    assert f'href="{placeholders.UNSUBSCRIBE_URL}"' in rendered.html
    # the paragraph got its inlined style, the marker inside it is untouched
    assert re.search(r'<p style="[^"]+">Hello %%DIGEST_SUBSCRIBER_NAME%%,', rendered.html)

    filled = placeholders.fill(
        rendered.html, {placeholders.UNSUBSCRIBE_URL: "https://x.example/u/TOKEN"}
    )
    assert 'href="https://x.example/u/TOKEN"' in filled
    assert placeholders.UNSUBSCRIBE_URL not in filled


def test_default_text_part_has_markers(settings: Settings, full_edition: Edition) -> None:
    text = Renderer(settings).email(full_edition).text
    assert placeholders.UNSUBSCRIBE_URL in text
    assert placeholders.PREFERENCES_URL in text
