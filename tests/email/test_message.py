"""Each recipient's copy: headers, filled markers, intact quoted-printable, no injection."""

from __future__ import annotations

import email
import email.policy
from datetime import datetime

import pytest

from digest.config import Settings
from digest.delivery.message import EditionContent, HeaderInjection, MessageTemplate
from digest.delivery.tokens import BadToken, read_token
from digest.render import placeholders as p

from .conftest import HTML, TEXT


def content(**overrides: str) -> EditionContent:
    values = {"subject": "Worker Wins: Nov 20", "html": HTML, "text": TEXT, **overrides}
    return EditionContent(
        1,
        "weekly",
        "weekly",
        values["subject"],
        values["html"],
        values["text"],
        datetime(2026, 11, 20),
    )


def parse(data: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(data, policy=email.policy.default)  # type: ignore[return-value]


def test_headers_and_parts(settings: Settings, now: datetime) -> None:
    out = MessageTemplate(settings, content()).build(42, "ana@example.net", "Ana <Ruiz>", now)
    msg = parse(out.data)
    assert msg["To"].addresses[0].addr_spec == "ana@example.net"
    assert msg["Message-ID"] == out.message_id and out.message_id.endswith("@example.org>")
    assert msg["Date"] and msg["From"].addresses[0].addr_spec == "news@example.org"
    assert msg.get_all("List-Unsubscribe-Post") == ["List-Unsubscribe=One-Click"]
    unsub = msg["List-Unsubscribe"]
    assert "<https://digest.example.org/u/" in unsub and "<mailto:unsubscribe@example.org" in unsub
    token = unsub.split("/u/", 1)[1].split(">", 1)[0]
    assert read_token(settings.signing_secret(), "unsubscribe", token) == {"s": 42, "l": "weekly"}
    assert msg["List-Id"] == "Weekly <weekly.example.org>"
    assert [part.get_content_type() for part in msg.iter_parts()] == ["text/plain", "text/html"]
    text, html = (part.get_content() for part in msg.iter_parts())
    assert "Hello Ana <Ruiz>," in text and f"/u/{token}" in text and "/p/" in text
    assert (
        "Hello Ana &lt;Ruiz&gt;," in html and f'href="https://digest.example.org/u/{token}"' in html
    )
    assert not any(marker in text + html for marker in p.ALL)


def test_lines_stay_short_and_markers_survive_long_lines(settings: Settings, now: datetime) -> None:
    long_html = "x" * 73 + p.UNSUBSCRIBE_URL + "é" * 50 + p.SUBSCRIBER_NAME + "y" * 300
    out = MessageTemplate(settings, content(html=long_html)).build(7, "b@example.net", "Bo", now)
    head, body = out.data.split(b"\r\n\r\n", 1)
    assert all(len(line) <= 76 for line in body.split(b"\r\n"))  # RFC 2045 QP limit
    assert all(len(line) <= 998 for line in head.split(b"\r\n"))
    html = list(parse(out.data).iter_parts())[1].get_content()
    assert html.startswith("x" * 73 + "https://digest.example.org/u/")
    assert "é" * 50 + "Bo" + "y" * 300 in html


def test_copies_differ_only_per_recipient(settings: Settings, now: datetime) -> None:
    template = MessageTemplate(settings, content())
    one, two = (template.build(i, f"m{i}@example.net", None, now) for i in (1, 2))
    assert one.message_id != two.message_id
    assert template.build(1, "m1@example.net", None, now).message_id == one.message_id


@pytest.mark.parametrize("field", ["name", "email", "subject"])
def test_line_breaks_in_headers_are_refused(settings: Settings, now: datetime, field: str) -> None:
    evil = "x\r\nBcc: victim@example.com"
    if field == "subject":
        with pytest.raises(HeaderInjection):
            MessageTemplate(settings, content(subject=evil))
        return
    template = MessageTemplate(settings, content())
    with pytest.raises(HeaderInjection):
        if field == "name":
            template.build(1, "a@example.net", evil, now)
        else:
            template.build(1, "a@example.net" + evil, None, now)


@pytest.mark.parametrize(
    ("name", "html", "text"),
    [
        (".Dot", "." + p.SUBSCRIBER_NAME + "\n.x\n" + "." * 90, TEXT),
        ("A", HTML, "." + "a" * 74 + "." * 20 + "\n." + p.SUBSCRIBER_NAME + "\n.\n"),
        (". . .", "x" * 75 + "." + p.UNSUBSCRIBE_URL + ".", "." * 300 + p.PREFERENCES_URL),
    ],
)
def test_prestuffed_copy_is_the_copy_dot_stuffed(
    settings: Settings, now: datetime, name: str, html: str, text: str
) -> None:
    """The SMTP transport sends ``stuffed`` as is: it must be exactly ``data`` stuffed."""
    template = MessageTemplate(settings, content(html=html, text=text))
    out = template.build(9, "c@example.net", name, now)
    expected = out.data.replace(b"\r\n.", b"\r\n..")
    assert b"\r\n." in out.data  # the cases do put dots at line starts
    assert out.stuffed == expected


def test_fast_subscriber_tokens_are_itsdangerous_tokens() -> None:
    from digest.delivery.tokens import SubscriberTokens, make_token

    secret = "a-long-enough-secret-for-tests"
    tokens = SubscriberTokens(secret, "unsubscribe", issued=1_790_000_000)
    assert tokens._fast
    cases = [(0, "weekly"), (42, "weekly"), (1234567, "in-the-states"), (5, 'a"é')]
    for sid, list_name in cases:
        token = tokens(sid, list_name)
        kid, signed = token.split(".", 1)
        assert signed == tokens._reference(sid, list_name)  # itsdangerous's own, same time
        assert kid == make_token(secret, "unsubscribe", {}).split(".", 1)[0]
        assert read_token(secret, "unsubscribe", token) == {"s": sid, "l": list_name}
    # itsdangerous compresses a payload this repetitive; the uncompressed token reads the same
    slow = make_token(secret, "unsubscribe", {"s": 3, "l": "z" * 60})
    fast = tokens(3, "z" * 60)
    assert slow.split(".", 1)[1].startswith(".") and not fast.split(".", 1)[1].startswith(".")
    assert read_token(secret, "unsubscribe", fast) == {"s": 3, "l": "z" * 60}
    with pytest.raises(BadToken):
        read_token(secret, "preferences", fast)  # another purpose's salt


@pytest.mark.parametrize("name", ["Member 1", "Ana Ruiz", "Ruiz, Ana", 'O"Neil', "Zoë", "a\\b"])
def test_to_header_is_what_formataddr_gives(settings: Settings, now: datetime, name: str) -> None:
    from email.utils import formataddr

    out = MessageTemplate(settings, content()).build(3, "z@example.net", name, now)
    to_line = next(line for line in out.data.split(b"\r\n") if line.startswith(b"To: "))
    assert to_line.decode() == "To: " + formataddr((name, "z@example.net"))
