"""X: the root post's photo goes up through API v2 media with its alt text.

``POST /2/media/upload`` (multipart), ``POST /2/media/metadata`` (alt text), then real
tweepy's ``Client.create_tweet``, against a requests adapter that answers in the shapes
X's OpenAPI spec gives (the retired v1.1 upload host answers 404 there, as it does now).
"""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image
from tests.social.conftest import make_edition
from tests.social.fakes import X_CHANNEL, FakeClock, FakeX, respond, session_for, stored_edition

from digest.models import Media, Origin, RunReport
from digest.social import post_edition

pytestmark = pytest.mark.usefixtures("x_credentials")
PHOTO_URL = "https://img.example.org/photo.jpg"
PHOTO_ALT = "Nurses on a picket line"  # what make_edition gives the first story


def small_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def x_settings(social_settings):
    return social_settings({"x": X_CHANNEL})


def _post(settings, store, edition, fake):
    fetched: list[str] = []

    def fetch_image(url: str) -> bytes:
        fetched.append(url)
        return small_png()

    report = RunReport()
    post_edition(
        settings,
        store,
        edition,
        report,
        x_session=session_for(fake),
        clock=FakeClock(),
        fetch_image=fetch_image,
    )
    return report, fetched


def _upload_calls(fake: FakeX) -> list[str]:
    return [r.path_url for r in fake.requests if r.path_url.startswith("/2/media/")]


def test_root_photo_is_uploaded_with_its_alt_text_and_attached(x_settings, store):
    fake = FakeX()
    edition = make_edition(3)
    edition.id = stored_edition(store)
    report, fetched = _post(x_settings, store, edition, fake)

    assert report.warnings == []
    assert fetched == [PHOTO_URL]
    # upload first, then the alt text for the id the upload returned, then the post
    assert _upload_calls(fake) == ["/2/media/upload", "/2/media/metadata"]
    assert len(fake.uploads) == 1
    upload = fake.uploads[0]
    assert b'name="media"; filename="image.png"' in upload
    assert small_png() in upload  # the image bytes themselves went up
    assert b'name="media_category"' in upload and b"tweet_image" in upload
    assert fake.metadata == [
        {"id": "1860000000000000001", "metadata": {"alt_text": {"text": PHOTO_ALT}}}
    ]
    create = [r for r in fake.requests if r.path_url == "/2/tweets"]
    first = json.loads(create[0].body or b"{}")
    assert first["media"] == {"media_ids": ["1860000000000000001"]}
    # only the root carries the photo; the replies have none
    assert [t["media_ids"] for t in fake.tweets] == ["1860000000000000001", "", ""]


def test_a_photo_without_alt_text_is_never_attached(x_settings, store):
    fake = FakeX()
    edition = make_edition(3)
    edition.id = stored_edition(store)
    edition.sections[0].items[0].media = (Media(PHOTO_URL, ""),)
    report, fetched = _post(x_settings, store, edition, fake)

    assert report.warnings == []
    assert report.posts == 3
    assert fetched == []  # not even downloaded
    assert _upload_calls(fake) == []
    assert all("media" not in json.loads(r.body or b"{}") for r in fake.requests)
    assert [t["media_ids"] for t in fake.tweets] == ["", "", ""]


def test_the_first_photo_that_has_alt_text_is_the_one_used(x_settings, store):
    fake = FakeX()
    edition = make_edition(3)
    edition.id = stored_edition(store)
    edition.sections[0].items[0].media = (Media(PHOTO_URL, "   "),)
    edition.sections[0].items[2].media = (
        Media("https://img.example.org/rally.png", "Workers march past city hall"),
    )
    edition.sections[0].items[2].origin = Origin("Test Federation", "own_blog")
    _report, fetched = _post(x_settings, store, edition, fake)

    assert fetched == ["https://img.example.org/rally.png"]
    assert fake.metadata[0]["metadata"] == {"alt_text": {"text": "Workers march past city hall"}}


def test_alt_text_refused_means_the_photo_is_left_out_and_the_post_still_goes(x_settings, store):
    fake = FakeX()
    fake.metadata_failures = [
        respond(400, {"title": "Invalid Request", "detail": "alt_text is missing."})
    ]
    edition = make_edition(3)
    edition.id = stored_edition(store)
    report, _fetched = _post(x_settings, store, edition, fake)

    assert len(fake.uploads) == 1  # uploaded, but without alt text it is not attached
    assert [t["media_ids"] for t in fake.tweets] == ["", "", ""]
    assert report.posts == 3
    (warning,) = [w for w in report.warnings if "left out" in w]
    assert warning.startswith(f"X image {PHOTO_URL} left out (PostRefused: X media metadata:")
    assert "HTTP 400" in warning and "alt_text is missing." in warning


def test_a_page_that_is_not_an_image_is_left_out_before_any_upload(x_settings, store):
    fake = FakeX()
    edition = make_edition(3)
    edition.id = stored_edition(store)
    report = RunReport()
    post_edition(
        x_settings,
        store,
        edition,
        report,
        x_session=session_for(fake),
        clock=FakeClock(),
        fetch_image=lambda url: b"<html>not a photo</html>",
    )
    assert _upload_calls(fake) == []
    assert report.posts == 3
    assert any(w.startswith(f"X image {PHOTO_URL} left out (ImageError") for w in report.warnings)
