"""Posting to a real Bluesky PDS on loopback, which validates records against the lexicons."""

from __future__ import annotations

import io
import random
import stat

import pytest
from tests.social.conftest import make_edition
from tests.social.fakes import stored_edition
from tests.social.pds_server import thread_of

from digest.models import RunReport
from digest.social import post_edition
from digest.social.bluesky import BlueskyPublisher
from digest.social.publish import UncertainError

pytestmark = [pytest.mark.pds, pytest.mark.slow]


def big_png() -> bytes:
    from PIL import Image

    rng = random.Random(1)
    image = Image.frombytes(
        "RGB", (900, 900), bytes(rng.getrandbits(8) for _ in range(900 * 900 * 3))
    )
    out = io.BytesIO()
    image.save(out, "PNG")
    assert out.tell() > 1_000_000  # must be shrunk to fit a Bluesky blob
    return out.getvalue()


def test_thread_with_link_card_lands_and_reads_back(bsky_settings, store, pds_url, account):
    edition = make_edition(headlines=3)
    edition.title = "Weekly List one"
    edition.id = stored_edition(store)
    report = RunReport()
    posts = post_edition(bsky_settings, store, edition, report, fetch_image=lambda url: big_png())
    assert report.warnings == []
    assert report.posts == len(posts) == 5

    chain = thread_of(pds_url, account, "Weekly List one")
    assert [r.value.text for r in chain] == [p.text for p in posts]
    root = chain[0]
    card = root.value.embed
    assert card.external.uri == "https://digest.example.org/archive/weekly/2026-11-20/"
    assert card.external.thumb is not None and card.external.thumb.size <= 1_000_000
    assert root.value.langs == ["en"]
    for record in chain[1:]:
        assert record.value.reply.root.uri == root.uri
        assert record.value.reply.root.cid == root.cid
    link = chain[1].value.facets[0]
    assert link.features[0].uri == "https://news.example.org/2026/11/story-1"
    shown = chain[1].value.text.encode()[link.index.byte_start : link.index.byte_end]
    assert shown == b"news.example.org/2026/11/story-1"

    # the session is saved, readable by its owner only, and the rerun posts nothing
    session_file = bsky_settings.resolve_path(bsky_settings.channels["bluesky"].session_file)
    assert stat.S_IMODE(session_file.stat().st_mode) == 0o600
    again = RunReport()
    post_edition(bsky_settings, store, edition, again, fetch_image=lambda url: big_png())
    assert again.posts == 0
    assert len(thread_of(pds_url, account, "Weekly List one")) == 5


def test_saved_session_is_reused_without_the_password(bsky_settings, store, monkeypatch):
    channel = bsky_settings.channels["bluesky"]
    first = BlueskyPublisher(bsky_settings, channel, fetch_image=lambda url: b"")
    first.new_key()
    assert first.logins == 1  # a fresh session file: one password login
    monkeypatch.setenv("BSKY_APP_PASSWORD", "wrong password")
    second = BlueskyPublisher(bsky_settings, channel, fetch_image=lambda url: b"")
    assert second.new_key().startswith("at://did:")
    assert second.logins == 0


class CrashAfterPart3(BlueskyPublisher):
    """Posts part 3 for real, then behaves as if the connection broke before the answer."""

    def publish(self, post, *, key, root, parent):
        ref = super().publish(post, key=key, root=root, parent=parent)
        if post.part == 3:
            raise UncertainError("simulated timeout after the write")
        return ref


def test_crash_after_part_3_is_reconciled_and_finished_once(bsky_settings, store, pds_url, account):
    edition = make_edition(headlines=3)
    edition.title = "Weekly List crash"
    edition.id = stored_edition(store)
    channel = bsky_settings.channels["bluesky"]
    crashing = CrashAfterPart3(bsky_settings, channel, fetch_image=lambda url: b"not an image")
    report = RunReport()
    post_edition(bsky_settings, store, edition, report, publishers={"bluesky": crashing})
    assert report.posts == 2
    assert any("outcome unknown" in w for w in report.warnings)
    assert any("thumbnail" in w for w in report.warnings)  # a bad image never blocks the post

    rerun = RunReport()
    post_edition(bsky_settings, store, edition, rerun, fetch_image=lambda url: b"x")
    assert rerun.posts == 2  # parts 4 and 5; part 3 was found, not reposted
    chain = thread_of(pds_url, account, "Weekly List crash")
    assert len(chain) == 5
