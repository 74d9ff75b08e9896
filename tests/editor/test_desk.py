"""The desk's edit page: every control as a plain form with CSRF, previews, plan, history,
two staff at once."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from digest.config import Settings, validate_config
from digest.store import Store, open_store
from digest.web import create_app
from digest.web.auth import hash_password

from .conftest import write_feed

PASSWORD = "correct horse battery staple"
THURSDAY = datetime.fromisoformat("2026-11-19T12:00-05:00")


@pytest.fixture
def desk(
    org: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[TestClient, Settings, Store]]:
    monkeypatch.setenv("DIGEST_TEST_STAFF_HASH", hash_password(PASSWORD, n=2**10))
    raw = {k: v for k, v in org.items() if k != "feeds"}
    raw["web"] = {"staff_password_hash": "${DIGEST_TEST_STAFF_HASH}"}
    settings = validate_config(raw, base_dir=tmp_path)
    store = open_store(settings.store.url)
    from digest.models import RunReport
    from digest.pipeline import collect_stage

    collect_stage(settings, store, RunReport(), THURSDAY)
    app = create_app(settings, store, clock=lambda: THURSDAY)
    client = TestClient(app, base_url="http://testserver", follow_redirects=False)
    yield client, settings, store
    client.close()
    store.dispose()


def sign_in(client: TestClient, who: str = "ana@example.org") -> str:
    form = client.get("/desk/login").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert csrf
    response = client.post(
        "/desk/login", data={"csrf_token": csrf.group(1), "email": who, "password": PASSWORD}
    )
    assert response.status_code == 303
    page = client.get("/desk/").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    return token.group(1)


def open_edit(client: TestClient) -> tuple[str, str]:
    response = client.get("/desk/next/weekly")
    assert response.status_code == 303
    url = response.headers["location"]
    return url, client.get(url).text


def post(client: TestClient, page_url: str, csrf: str, **fields: Any) -> Any:
    revision = re.search(r'name="revision" value="(\d+)"', client.get(page_url).text)
    data = {"csrf_token": csrf, "revision": revision.group(1) if revision else "0", **fields}
    return client.post(page_url, data=data)


def email_of(client: TestClient, url: str) -> str:
    return client.get(url.removesuffix("/edit") + "/email.html").text


def keys(page: str) -> list[str]:
    return re.findall(r'<div class="item" id="item-([a-z0-9]+)"', page)


def test_edit_page_shows_plan_previews_and_history(
    desk: tuple[TestClient, Settings, Store],
) -> None:
    client, _, _ = desk
    sign_in(client)
    _, page = open_edit(client)
    assert "Goes out Friday November 20, 4:00 pm EST to 0 subscribers" in page
    assert 'width="375"' in page and 'width="600"' in page
    assert "collect · create" in page
    for control in ("headline", "preheader", "note", "intro", "add-url", "groups", "drop"):
        assert f'name="action" value="{control}"' in page


def test_every_control_through_the_desk(desk: tuple[TestClient, Settings, Store]) -> None:
    client, _, _ = desk
    csrf = sign_in(client)
    url, page = open_edit(client)
    c, b, a = keys(page)[:3]
    assert post(client, url, csrf, action="headline", value="Let Us Work").status_code == 303
    post(client, url, csrf, action="preheader", value="This week in brief")
    post(client, url, csrf, action="note", value="Hello from the editor.")
    post(client, url, csrf, action="intro", section="weekly_list", value="Fresh intro.")
    post(client, url, csrf, action="drop", item=b)
    post(client, url, csrf, action="move", item=a, where="up")
    post(client, url, csrf, action="item", item=c, title="Charlie vote won", excerpt="Fixed.")
    post(client, url, csrf, action="pin", item=a)
    post(
        client,
        url,
        csrf,
        action="groups",
        section="in_the_states",
        headings=["Texas AFL-CIO"],
        **{"order:Texas AFL-CIO": "1"},
    )
    email = email_of(client, url)
    assert ">Let Us Work</h1>" in email and "This week in brief" in email
    assert "Hello from the editor." in email and "Fresh intro." in email
    assert "Bravo contract" not in email and "Charlie vote won" in email
    assert email.index("Alpha strike ends") < email.index("Charlie vote won")
    assert "Texas rally" in email and "Ohio canvass" not in email
    page = client.get(url).text
    assert keys(page)[:2] == [a, c]
    post(client, url, csrf, action="restore", item=b)
    post(client, url, csrf, action="unpin", item=a)
    post(client, url, csrf, action="groups", section="in_the_states")  # none ticked: all
    post(client, url, csrf, action="move", item=b, where="1", section="in_the_states")
    assert "Bravo contract" in email_of(client, url)
    history = client.get(url).text
    assert "desk:ana@example.org · edit: headline set to" in history


def test_add_url_through_the_desk(
    desk: tuple[TestClient, Settings, Store], page_server: str
) -> None:
    client, _, _ = desk
    csrf = sign_in(client)
    url, _ = open_edit(client)
    post(client, url, csrf, action="add-url", section="weekly_list", url=page_server + "/story")
    assert "Nurses win staffing ratios" in email_of(client, url)
    post(client, url, csrf, action="add-url", section="weekly_list", url=page_server + "/gone")
    page = client.get(url).text
    assert "could not fill in" in page and "HTTP 404" in page


def test_csrf_and_sign_in_are_required(desk: tuple[TestClient, Settings, Store]) -> None:
    client, _, _ = desk
    assert client.get("/desk/next/weekly").status_code == 303  # to the login page
    csrf = sign_in(client)
    url, _ = open_edit(client)
    refused = client.post(url, data={"csrf_token": "forged", "action": "headline", "value": "x"})
    assert refused.status_code == 403
    assert ">x</h1>" not in email_of(client, url)
    del csrf


def test_unknown_ids_and_refusals_are_explained(
    desk: tuple[TestClient, Settings, Store],
) -> None:
    client, settings, store = desk
    csrf = sign_in(client)
    url, page = open_edit(client)
    bad = post(client, url, csrf, action="drop", item="i999")
    assert bad.status_code == 409 and "no item &#39;i999&#39;" in bad.text
    assert keys(page)[0] in bad.text
    edition_id = int(url.split("/")[3])
    from digest.draft import approve
    from digest.lifecycle import EditionStatus
    from digest.store.tables import EditionRow

    approve(settings, store, edition_id, actor="test", now=THURSDAY)
    reopened = post(client, url, csrf, action="headline", value="After approval")
    assert reopened.status_code == 303
    assert 'status <span class="status draft">draft</span>' in client.get(url).text
    with store.session() as session:
        row = session.get(EditionRow, edition_id)
        assert row is not None
        row.status = EditionStatus.SENDING.value
    late = post(client, url, csrf, action="headline", value="Too late")
    assert late.status_code == 409 and "sending has started" in late.text


def test_two_staff_editing_keep_each_others_edits(
    desk: tuple[TestClient, Settings, Store], org: dict[str, Any]
) -> None:
    client, settings, store = desk
    csrf_a = sign_in(client, "ana@example.org")
    url, page = open_edit(client)
    stale_revision = re.search(r'name="revision" value="(\d+)"', page)
    assert stale_revision
    other = TestClient(client.app, base_url="http://testserver", follow_redirects=False)
    csrf_b = sign_in(other, "ben@example.org")
    post(other, url, csrf_b, action="headline", value="Ben's headline")
    # Ana submits a form loaded before Ben's change: both edits are kept, and she is told
    answer = client.post(
        url,
        data={
            "csrf_token": csrf_a,
            "revision": stale_revision.group(1),
            "action": "drop",
            "item": keys(page)[0],
        },
    )
    assert answer.headers["location"].endswith("notice=others")
    assert "Someone else also changed this draft" in client.get(answer.headers["location"]).text
    email = email_of(client, url)
    assert "Ben&#39;s headline" in email or "Ben's headline" in email
    assert "Charlie vote" not in email
    # a collect between edits adds new items and keeps both edits
    write_feed(
        org["feeds"]["news"],
        "news",
        ["Alpha strike ends", "Bravo contract", "Charlie vote", "Delta organizes"],
    )
    from digest.models import RunReport
    from digest.pipeline import collect_stage

    collect_stage(settings, store, RunReport(), THURSDAY)
    email = email_of(client, url)
    assert "Delta organizes" in email and "Charlie vote" not in email
    other.close()
