"""Posting to X through real tweepy against scripted API v2 answers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from tests.social.conftest import make_edition
from tests.social.fakes import (
    NOW,
    X_CHANNEL,
    FakeClock,
    FakeX,
    rate_limited,
    respond,
    server_error,
    session_for,
    stored_edition,
)

from digest.models import RunReport
from digest.social import compose, post_edition
from digest.store.tables import SocialPostRow

pytestmark = pytest.mark.usefixtures("x_credentials")


def _run(settings, store, edition, fake, clock=None, **kw):
    report = RunReport()
    post_edition(
        settings,
        store,
        edition,
        report,
        x_session=session_for(fake),
        clock=clock or FakeClock(),
        fetch_image=lambda url: b"",
        **kw,
    )
    return report


def compose_texts(settings, edition):
    return [p.text for p in compose(settings, edition, "x")]


def _ledger(store, edition_id):
    with store.session() as session:
        rows = (
            session.query(SocialPostRow)
            .filter_by(edition_id=edition_id)
            .order_by(SocialPostRow.part)
        )
        return [(r.part, r.status, r.remote_id) for r in rows]


@pytest.fixture
def x_settings(social_settings):
    return social_settings({"x": X_CHANNEL})


def _edition(store, headlines=3):
    edition = make_edition(headlines)
    edition.id = stored_edition(store)
    for item in edition.sections[0].items:
        item.media = ()  # no image upload in these tests
    return edition


def test_thread_replies_to_the_previous_post(x_settings, store):
    fake = FakeX()
    edition = _edition(store)
    report = _run(x_settings, store, edition, fake)
    assert report.warnings == []
    assert report.posts == 3
    assert [t["reply_to"] for t in fake.tweets] == ["", "1000", "1001"]
    assert _ledger(store, edition.id) == [
        (1, "posted", "1000"),
        (2, "posted", "1001"),
        (3, "posted", "1002"),
    ]
    # a second run posts nothing
    again = _run(x_settings, store, edition, fake)
    assert again.posts == 0 and fake.creates == 3


def test_429_waits_for_the_named_reset_then_posts(x_settings, store):
    fake = FakeX()
    clock = FakeClock()
    fake.failures = [None, rate_limited(int(NOW.timestamp()) + 120)]
    edition = _edition(store)
    report = _run(x_settings, store, edition, fake, clock)
    assert report.posts == 3 and report.warnings == []
    assert clock.slept == [121.0]
    assert len(fake.tweets) == 3


def test_429_with_a_far_reset_stops_and_a_rerun_finishes(x_settings, store):
    fake = FakeX()
    fake.failures = [None, rate_limited(int(NOW.timestamp()) + 6 * 3600)]
    edition = _edition(store)
    report = _run(x_settings, store, edition, fake)
    assert report.posts == 1
    assert any("rate limited" in w for w in report.warnings)
    assert _ledger(store, edition.id)[1][1] == "pending"
    rerun = _run(x_settings, store, edition, fake)
    assert rerun.posts == 2 and len(fake.tweets) == 3


def test_5xx_on_part_3_of_5_then_rerun_finishes_the_thread_once(social_settings, store):
    settings = social_settings({"x": X_CHANNEL})
    fake = FakeX()
    edition = make_edition(3)
    edition.id = stored_edition(store)
    # five parts: root, top stories, states, plus two extra sections' worth via headlines
    edition.sections[0].items[0].media = ()
    from digest.models import Section

    edition.sections.append(
        Section("wins", "Worker Wins", "", "worker_wins", items=list(edition.sections[0].items))
    )
    edition.sections.append(
        Section(
            "states2",
            "What Working People Are Doing",
            "",
            "affiliates_doing",
            groups=list(edition.sections[1].groups),
        )
    )
    fake.failures = [None, None, server_error]
    report = _run(settings, store, edition, fake)
    assert report.posts == 2
    assert any("outcome unknown" in w for w in report.warnings)
    assert [s for _, s, _ in _ledger(store, edition.id)] == [
        "posted",
        "posted",
        "posting",
        "pending",
        "pending",
    ]
    rerun = _run(settings, store, edition, fake)
    assert rerun.warnings == []
    assert rerun.posts == 3
    assert len(fake.tweets) == 5  # part 3 posted exactly once
    assert [t["reply_to"] for t in fake.tweets] == ["", "1000", "1001", "1002", "1003"]


def test_5xx_after_the_post_landed_is_reconciled_not_reposted(x_settings, store):
    fake = FakeX()

    def landed_then_failed(body):
        fake.create(body)
        return server_error(body)

    fake.failures = [None, landed_then_failed]
    edition = _edition(store)
    _run(x_settings, store, edition, fake)
    rerun = _run(x_settings, store, edition, fake)
    assert len(fake.tweets) == 3
    assert rerun.posts == 1
    assert _ledger(store, edition.id)[1] == (2, "posted", "1001")


def test_403_duplicate_is_reconciled_with_the_existing_post(x_settings, store):
    fake = FakeX()

    def duplicate(body):
        fake.create(body)  # it exists already (e.g. posted by hand)
        return respond(
            403,
            {
                "detail": "You are not allowed to create a Tweet with duplicate content.",
                "status": 403,
                "title": "Forbidden",
            },
        )

    fake.failures = [duplicate]
    edition = _edition(store)
    report = _run(x_settings, store, edition, fake)
    assert fake.creates == 3  # never retried blindly
    assert _ledger(store, edition.id)[0] == (1, "posted", "1000")
    assert any("already existed" in w for w in report.warnings)
    assert [t["reply_to"] for t in fake.tweets] == ["", "1000", "1001"]


def test_403_duplicate_not_found_fails_without_retry(x_settings, store):
    fake = FakeX()
    fake.failures = [lambda body: respond(403, {"detail": "duplicate content", "status": 403})]
    edition = _edition(store)
    report = _run(x_settings, store, edition, fake)
    assert fake.creates == 1
    assert _ledger(store, edition.id)[0][1] == "failed"
    assert any("duplicate" in w for w in report.warnings)


def test_credentials_never_reach_the_logs(x_settings, store, caplog):
    caplog.set_level("DEBUG")
    _run(x_settings, store, _edition(store), FakeX())
    assert "test-x_access_token" not in caplog.text
    assert "oauth_signature" not in caplog.text


def test_unapproved_edition_is_not_posted(x_settings, store):
    fake = FakeX()
    edition = make_edition(2)
    edition.id = stored_edition(store, status="draft")
    report = _run(x_settings, store, edition, fake)
    assert fake.creates == 0 and any("draft" in w for w in report.warnings)


def test_403_duplicate_of_last_weeks_identical_post_is_not_taken_for_this_one(x_settings, store):
    fake = FakeX()
    edition = _edition(store)
    # Last week's announcement had the same text: it is in the timeline, a week old.
    fake.now = NOW - timedelta(days=7)
    fake.create({"text": compose_texts(x_settings, edition)[0]})
    fake.now = NOW
    fake.failures = [
        lambda body: respond(403, {"detail": "duplicate content", "status": 403}),
    ]
    report = _run(x_settings, store, edition, fake)
    assert _ledger(store, edition.id)[0][1] == "failed"  # not recorded as last week's post
    assert fake.creates == 1  # and nothing threaded under it
    assert any("not made by this attempt" in w for w in report.warnings)


def test_a_duplicate_is_accepted_only_in_reply_to_this_threads_parent(x_settings, store):
    fake = FakeX()
    edition = _edition(store)
    texts = compose_texts(x_settings, edition)
    fake.create({"text": texts[1], "reply": {"in_reply_to_tweet_id": "999"}})  # another thread

    def duplicate(body):
        return respond(403, {"detail": "duplicate content", "status": 403})

    fake.failures = [None, duplicate]
    report = _run(x_settings, store, edition, fake)
    assert _ledger(store, edition.id)[1][1] == "failed"
    assert any("not made by this attempt" in w for w in report.warnings)
