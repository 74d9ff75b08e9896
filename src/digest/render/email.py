"""Render an edition: email (MJML → HTML, CSS inlined, text part) and archive page.

An edition is rendered once, with recipient markers (``digest.render.placeholders``)
where the unsubscribe URL, preferences URL and name go; delivery fills them per copy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jinja2

from digest.config import Settings
from digest.models import Edition
from digest.render import checks, placeholders
from digest.render.display import signup_box
from digest.render.mjml_html import compile_mjml, inline_css, split_inline_css
from digest.render.plaintext import collapse_blank_lines
from digest.render.templates import STYLES_TEMPLATE, make_environment, module, render
from digest.render.views import EmailView, FragmentStyles
from digest.urls import archive_url, edition_url

EMAIL_MJML = "email/base.mjml.j2"
EMAIL_TEXT = "email/base.txt.j2"
WEB_PAGE = "web/edition.html.j2"


@dataclass(frozen=True)
class RenderedEmail:
    mjml: str
    html: str
    text: str

    @property
    def html_bytes(self) -> int:
        """Size of the HTML part; Gmail clips above ~102 KB."""
        return checks.html_size(self.html)


class Renderer:
    """Renders editions and other templates with the deployment's overrides."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.env: jinja2.Environment = make_environment(settings)
        self._overlays: dict[str, jinja2.Environment] = {}

    def overlay(
        self, name: str, build: Callable[[jinja2.Environment], jinja2.Environment]
    ) -> jinja2.Environment:
        """An environment derived from ``env`` (the social posts' finalize step, say),
        built once per Renderer so its templates too compile once."""
        found = self._overlays.get(name)
        if found is None:
            found = self._overlays[name] = build(self.env)
        return found

    def render_template(self, name: str, **context: Any) -> str:
        """Render any template (social posts, web pages) with the shared filters."""
        return render(self.env, name, context)

    def email(self, edition: Edition) -> RenderedEmail:
        context = self._email_context(edition)
        postal_address = self.settings.organization.postal_address
        markers = placeholders.Markers(edition.markers)
        unsubscribe = markers.unsubscribe_url
        source = render(self.env, EMAIL_MJML, context)
        html = placeholders.neutralise_foreign(self.mjml_to_html(source, EMAIL_MJML), markers)
        text = tidy_text(render(self.env, EMAIL_TEXT, context))
        text = placeholders.neutralise_foreign(text, markers)
        checks.raise_problems(
            checks.html_problems(html, postal_address, unsubscribe)
            + checks.text_problems(text, postal_address, unsubscribe)
        )
        return RenderedEmail(mjml=source, html=html, text=text)

    def mjml_to_html(self, source: str, template: str = EMAIL_MJML) -> str:
        body, css = split_inline_css(source)
        html = compile_mjml(body, template)
        if self.settings.templates_dir is None and not css:
            # The shipped templates write their styles inline and use none of the
            # class_rules classes (tests/render/test_inline_styles.py), and item HTML
            # carries no classes (nh3 drops them): the rules can only apply to a
            # deployment's own markup, so without overrides there is nothing to inline
            # (and css-inline, which re-serialises the whole document, is not run).
            return html
        rules = str(getattr(module(self.env, STYLES_TEMPLATE), "class_rules", ""))
        return inline_css(html, f"{rules}\n{css}" if css else rules)

    def web_page(self, edition: Edition) -> str:
        """The edition's archive page (no recipient markers: it is public)."""
        context = self._context(edition)
        context["archive_url"] = archive_url(self.settings, edition.newsletter)
        context["cta"] = signup_box(self.settings, edition.newsletter)
        return render(self.env, WEB_PAGE, context)

    def _email_context(self, edition: Edition) -> dict[str, Any]:
        """The context of both email templates; ``views`` is shared by the two passes."""
        context = self._context(edition)
        styles = module(self.env, STYLES_TEMPLATE)
        markers = placeholders.Markers(edition.markers)
        context.update(
            unsubscribe_url=markers.unsubscribe_url,
            preferences_url=markers.preferences_url,
            subscriber_name=markers.subscriber_name,
            style=styles,
            views=EmailView(FragmentStyles.from_module(styles), context["timezone"]),
        )
        return context

    def _context(self, edition: Edition) -> dict[str, Any]:
        newsletter = self.settings.newsletters.get(edition.newsletter)
        return {
            "edition": edition,
            "newsletter_title": newsletter.title if newsletter else edition.title,
            "timezone": newsletter.timezone if newsletter else "UTC",
            "view_url": edition_url(self.settings, edition.newsletter, edition.period_end),
            "lang": self.settings.organization.language,
        }


def tidy_text(text: str) -> str:
    """No trailing spaces, at most one blank line in a row, one final newline."""
    text = "\n".join(line.rstrip(" \t") for line in text.split("\n"))
    return collapse_blank_lines(text).strip() + "\n"
