"""Per-person counting exists only when the organisation turns it on, and people can say no."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from fastapi.testclient import TestClient
from sqlalchemy import select

from digest.store.tables import ClickRow, SubscriberRow
from digest.web import create_app

from .conftest import BROWSER, Sent


def _first_tracked(sent: Sent, index: int) -> str:
    site = sent.settings.organization.site_url
    hrefs = [h for h in sent.hrefs(sent.messages[index]) if h.startswith(site + "/r/")]
    return hrefs[0]


def _owner(sent: Sent, index: int) -> int:
    address = str(sent.messages[index]["To"]).split("<")[-1].rstrip(">")
    with sent.store.session() as session:
        found = session.scalar(select(SubscriberRow.id).where(SubscriberRow.email == address))
    assert found is not None
    return found


def _named_clicks(sent: Sent) -> list[int | None]:
    with sent.store.session() as session:
        return list(session.scalars(select(ClickRow.subscriber_id).order_by(ClickRow.id)))


def test_aggregate_mode_names_nobody_even_with_a_forged_recipient(
    send_week: Callable[..., Sent],
) -> None:
    sent = send_week(people=1, burst_seconds=0.1)
    link = _first_tracked(sent, 0)
    assert "?r=" not in link
    with TestClient(create_app(sent.settings, sent.store), follow_redirects=False) as client:
        assert (
            client.get(urlsplit(link).path + "?r=1", headers={"user-agent": BROWSER}).status_code
            == 302
        )
    assert _named_clicks(sent) == [None]


def test_per_subscriber_mode_names_the_reader_until_they_opt_out(
    send_week: Callable[..., Sent],
) -> None:
    sent = send_week(people=2, clicks="per_subscriber", burst_seconds=0.1)
    links = [_first_tracked(sent, i) for i in range(2)]
    assert links[0] != links[1], "each copy carries its reader's id"
    owner = _owner(sent, 0)
    app = create_app(sent.settings, sent.store)
    with TestClient(app, follow_redirects=False) as client:
        parts = urlsplit(links[0])
        assert (
            client.get(f"{parts.path}?{parts.query}", headers={"user-agent": BROWSER}).status_code
            == 302
        )
        # a forged recipient id is not anyone's
        forged = f"{parts.path}?r=WzFd.forged"
        assert client.get(forged, headers={"user-agent": BROWSER + " x"}).status_code == 302
    assert _named_clicks(sent) == [owner, None]
    # the reader switches it off on their preferences page: their next click is anonymous
    prefs = next(h for h in sent.hrefs(sent.messages[0]) if "/p/" in h)
    with TestClient(app, follow_redirects=False) as client:
        page = client.get(urlsplit(prefs).path)
        assert "Count my clicks under my name" in page.text and " checked" in page.text
        saved = client.post(urlsplit(prefs).path, data={"action": "save", "lists": ["weekly"]})
        assert saved.status_code == 303
        assert (
            'id="count-clicks" name="count_clicks" value="yes">'
            in client.get(urlsplit(prefs).path).text
        )
        client.get(f"{parts.path}?{parts.query}", headers={"user-agent": BROWSER + " y"})
    assert _named_clicks(sent) == [owner, None, None]
