"""Item HTML → the text part's words, and the text part's tidying."""

from __future__ import annotations

import pytest

from digest.render.email import tidy_text
from digest.render.plaintext import html_to_text


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>One  para\n with\tspaces.</p>", "One para with spaces."),
        (
            '<p>Read <a href="https://x.org/a?b=1&amp;c=2">the story</a> &amp; more.</p>'
            "<p>Next.</p>",
            "Read the story (https://x.org/a?b=1&c=2) & more.\n\nNext.",
        ),
        ("<ul><li>First</li><li>Second</li></ul>", "- First\n- Second"),
        ("Line<br>break &lt;b&gt;", "Line\nbreak <b>"),
        ('<a href="/relative">kept as text</a>', "kept as text"),
        ('<a href="https://x.org">https://x.org</a>', "https://x.org"),
        ("<p>&nbsp;Indented</p>", "Indented"),
        ("<!-- hidden --><h2>Title</h2><blockquote><p>Quoted</p></blockquote>", "Title\n\nQuoted"),
        ('<p><a href="mailto:a@b.example"></a></p>', "mailto:a@b.example"),
        ("No tags &amp; spaces  here", "No tags & spaces here"),
        ("<p> One\n&amp; only &#8230;&nbsp;</p>", "One & only …"),
        ("<p>First  one.</p><p></p><p> Second.</p>", "First one.\n\nSecond."),
    ],
)
def test_html_to_text(html: str, text: str) -> None:
    assert html_to_text(html) == text


@pytest.mark.parametrize(
    ("raw", "tidy"),
    [
        ("Title\n\n\nBody\n", "Title\n\nBody\n"),
        ("a\n\n\n\nb\n\n\n\n\n\nc", "a\n\nb\n\nc\n"),
        ("a  \nb\t\n\n\n\n c", "a\nb\n\n c\n"),
        ("\n\n\nlead and trail \n\n\n", "lead and trail\n"),
        ("one blank\n\nstays", "one blank\n\nstays\n"),
    ],
)
def test_tidy_text(raw: str, tidy: str) -> None:
    """The text part: no trailing spaces, at most one blank line in a row, one final
    newline."""
    assert tidy_text(raw) == tidy
