"""Public pages that win readers: card meta, sign-up, share links, latest edition, TOC."""

from __future__ import annotations

import mailbox
import re
from email.message import Message
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from digest.config import Settings
from digest.delivery.tokens import subscriber_token
from digest.store import Store
from digest.store.tables import EditionRow, SubscriptionRow
from digest.web import create_app

WEEKLY = "/archive/weekly/2026-11-20/"


class MetaReader(HTMLParser):
    """The <meta property|name=… content=…> tags of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.meta: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        key = found.get("property") or found.get("name")
        if tag == "meta" and key and found.get("content") is not None:
            self.meta[key] = found["content"] or ""


def confirm_path_from(message: Message) -> str:
    """The /confirm/<token> path from a confirmation email's text part."""
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            text = part.get_payload(decode=True).decode()  # type: ignore[union-attr]
            found = re.search(r"https?://[^/\s]+(/confirm/\S+)", text)
            if found:
                return found.group(1)
    raise AssertionError("no confirm link in the message")


def meta_of(html: str) -> dict[str, str]:
    reader = MetaReader()
    reader.feed(html)
    return reader.meta


@pytest.fixture
def client(demo: tuple[Settings, Store]) -> TestClient:
    settings, store = demo
    return TestClient(create_app(settings, store), follow_redirects=False)


def test_edition_page_has_card_meta_with_its_headline_description_and_image(
    client: TestClient, demo: tuple[Settings, Store]
) -> None:
    _, store = demo
    with store.session() as session:
        subject = session.scalars(
            select(EditionRow.subject).where(EditionRow.newsletter == "weekly")
        ).one()
    html = client.get(WEEKLY).text
    meta = meta_of(html)
    assert meta["og:title"] == subject == meta["twitter:title"]
    assert re.search(rf"<h1>{re.escape(subject)}</h1>", html)
    assert meta["og:url"] == "https://digest.example.org" + WEEKLY
    assert meta["og:description"].startswith("In this edition: ")
    assert meta["og:type"] == "article"
    # The demo's weekly stories carry no image and the demo has no logo: a small card.
    assert "og:image" not in meta and meta["twitter:card"] == "summary"


def test_card_image_is_the_first_story_image_else_the_logo(
    demo: tuple[Settings, Store],
) -> None:
    from digest.editions import edition_from_row
    from digest.models import Media
    from digest.render import Renderer

    settings, store = demo
    with store.session() as session:
        edition_id = session.scalars(
            select(EditionRow.id).where(EditionRow.newsletter == "weekly")
        ).one()
    with store.session() as session:
        row = session.get(EditionRow, edition_id)
        assert row is not None
        edition = edition_from_row(row, settings.newsletters["weekly"].timezone)
    assert edition is not None
    with_logo = settings.model_copy(
        update={
            "organization": settings.organization.model_copy(
                update={"logo_url": "https://digest.example.org/logo.png"}
            )
        }
    )
    meta = meta_of(Renderer(with_logo).web_page(edition))
    assert meta["og:image"] == "https://digest.example.org/logo.png"
    assert meta["twitter:card"] == "summary_large_image"
    story = edition.sections[0].items[0]
    story.media = [Media(url="https://cdn.example.net/strike.jpg", alt="Picket line")]
    meta = meta_of(Renderer(with_logo).web_page(edition))
    assert meta["og:image"] == meta["twitter:image"] == "https://cdn.example.net/strike.jpg"


def test_archive_index_has_card_meta_a_signup_and_share_links(client: TestClient) -> None:
    html = client.get("/archive/weekly/").text
    meta = meta_of(html)
    assert meta["og:title"] == "The Weekly Roundup archive"
    assert meta["og:url"] == "https://digest.example.org/archive/weekly/"
    assert meta["og:description"].startswith("News, wins and what our unions")
    assert meta["twitter:card"] == "summary"
    assert 'action="https://digest.example.org/subscribe"' in html
    assert '<input type="hidden" name="lists" value="weekly">' in html
    assert "https://bsky.app/intent/compose?text=" in html
    assert "https://x.com/intent/post?" in html


def test_edition_page_has_a_table_of_contents_signup_and_share_links(client: TestClient) -> None:
    html = client.get(WEEKLY).text
    toc = html.split('<nav class="toc"', 1)[1].split("</nav>", 1)[0]
    targets = re.findall(r'href="#([^"]+)"', toc)
    assert len(targets) >= 3
    for target in targets:
        assert f'id="{target}"' in html  # every jump link lands on a section
    assert '<input type="hidden" name="lists" value="weekly">' in html
    assert "bsky.app/intent/compose" in html and "mailto:?subject=" in html


def test_home_sells_each_newsletter_with_its_latest_edition_and_a_signup(
    client: TestClient, demo: tuple[Settings, Store]
) -> None:
    settings, _ = demo
    html = client.get("/").text
    for newsletter_id, newsletter in settings.newsletters.items():
        card = html.split(f'id="nl-{newsletter_id}"', 1)[1].split("</section>", 1)[0]
        assert newsletter.description and newsletter.description in card
        assert f'name="lists" value="{settings.audience_of(newsletter_id)}"' in card
        assert "Latest:" in card and f'href="/archive/{newsletter_id}/20' in card
    assert "og:title" in meta_of(html)


def test_signing_up_from_the_inline_box_works(client: TestClient) -> None:
    response = client.post("/subscribe", data={"email": "new@example.org", "lists": "weekly"})
    assert response.status_code == 200
    assert "Check your inbox" in response.text


def test_confirmed_page_links_the_latest_edition(
    client: TestClient, demo: tuple[Settings, Store]
) -> None:
    settings, _ = demo
    client.post("/subscribe", data={"email": "later@example.org", "lists": "weekly"})
    outbox = settings.resolve_path(settings.channels["email"].path)  # type: ignore[union-attr]
    [message] = [
        m for m in mailbox.Maildir(str(outbox), create=False) if m["To"] == "later@example.org"
    ]
    html = client.post(confirm_path_from(message)).text
    assert "You are subscribed" in html
    assert f'href="{WEEKLY}"' in html and "Read the latest The Weekly Roundup" in html


def test_resubscribe_after_unsubscribing(client: TestClient, demo: tuple[Settings, Store]) -> None:
    settings, store = demo
    with store.session() as session:
        row = session.scalars(
            select(SubscriptionRow).where(
                SubscriptionRow.list_name == "weekly", SubscriptionRow.status == "confirmed"
            )
        ).first()
        assert row is not None
        subscriber_id = row.subscriber_id
    token = subscriber_token(settings.signing_keys(), "unsubscribe", subscriber_id, "weekly")
    html = client.post(f"/u/{token}", data={"List-Unsubscribe": "One-Click"}).text
    assert "You are unsubscribed" in html
    form = html.split("Resubscribe", 1)[0].rsplit("<form", 1)[1]
    action = re.search(r'action="([^"]+)"', form)
    assert action is not None
    lists = re.findall(r'name="lists" value="([^"]+)"', form)
    assert "weekly" in lists
    response = client.post(action.group(1), data={"lists": lists})
    assert response.status_code == 303
    with store.session() as session:
        again = session.get(SubscriptionRow, (subscriber_id, "weekly"))
        assert again is not None and again.status == "confirmed"


def test_long_email_opens_with_jump_links_to_its_sections(demo: tuple[Settings, Store]) -> None:
    from digest.editions import edition_from_row

    settings, store = demo
    with store.session() as session:
        edition_id = session.scalars(
            select(EditionRow.id).where(EditionRow.newsletter == "weekly")
        ).one()
    with store.session() as session:
        row = session.get(EditionRow, edition_id)
        assert row is not None
        edition = edition_from_row(row, settings.newsletters["weekly"].timezone)
    assert edition is not None
    toc = edition.html.split("In this edition:", 1)[1].split("</p>", 1)[0]
    targets = re.findall(r'href="#([^"]+)"', toc)
    assert targets == [s.format_id for s in edition.sections if not s.is_empty]
    for target in targets:
        assert re.search(rf'<h2 class="st"[^>]* id="{target}"', edition.html)
    assert "In this edition:\n  - " in edition.text
