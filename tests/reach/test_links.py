"""The email's story links go through the click redirect; nothing else does."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from fastapi.testclient import TestClient

from digest.reach.links import click_token
from digest.web import create_app

from .conftest import STORIES, Sent


def _redirects(sent: Sent) -> list[str]:
    site = sent.settings.organization.site_url
    return [h for h in sent.hrefs(sent.messages[0]) if h.startswith(site + "/r/")]


def test_story_links_go_through_the_redirect_and_land_on_the_story(
    send_week: Callable[..., Sent],
) -> None:
    sent = send_week()
    hrefs = sent.hrefs(sent.messages[0])
    story_urls = {url for _, url in STORIES}
    assert not story_urls & set(hrefs), "a story link went out untracked"
    assert any("/u/" in h for h in hrefs), "the unsubscribe link must stay direct"
    client = TestClient(create_app(sent.settings, sent.store), follow_redirects=False)
    landed = set()
    for href in _redirects(sent):
        response = client.get(urlsplit(href).path)
        assert response.status_code == 302
        landed.add(response.headers["location"])
    assert story_urls <= landed
    # every copy of the edition carries the same links: counts are per link, not per person
    assert all(_redirects(sent) == _redirects_of(sent, m) for m in sent.messages)


def _redirects_of(sent: Sent, message: object) -> list[str]:
    site = sent.settings.organization.site_url
    return [h for h in sent.hrefs(message) if h.startswith(site + "/r/")]  # type: ignore[arg-type]


def test_a_tampered_or_foreign_token_is_refused_not_followed(
    send_week: Callable[..., Sent],
) -> None:
    sent = send_week(people=1)
    client = TestClient(create_app(sent.settings, sent.store), follow_redirects=False)
    path = urlsplit(_redirects(sent)[0]).path
    assert client.get(path[:-2] + ("AA" if not path.endswith("AA") else "BB")).status_code == 404
    forged = click_token("someone-elses-key", sent.edition_id, 1, "https://evil.example/")
    response = client.get("/r/" + forged)
    assert response.status_code == 404 and "location" not in response.headers


def test_clicks_off_leaves_every_link_as_it_is(send_week: Callable[..., Sent]) -> None:
    sent = send_week(people=1, clicks="off")
    hrefs = sent.hrefs(sent.messages[0])
    assert {url for _, url in STORIES} <= set(hrefs)
    assert not _redirects(sent)
