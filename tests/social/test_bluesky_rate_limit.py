"""Bluesky 429s on part 2 of a thread, against the real PDS on loopback.

A fault injector (an httpx transport under the atproto SDK's own Request) answers the
Nth ``com.atproto.repo.createRecord`` with a 429 shaped like the PDS's rate limiter
(``ratelimit-*`` headers, ``RateLimitExceeded`` body) without forwarding it; every other
request, including the retry, reaches the real PDS.
"""

from __future__ import annotations

import io

import httpx
import pytest
from atproto_client.request import Request
from PIL import Image
from tests.social.conftest import make_edition
from tests.social.fakes import NOW, FakeClock, stored_edition
from tests.social.pds_server import records, thread_of

from digest.models import RunReport
from digest.social import post_edition
from digest.social.ledger import entries

pytestmark = [pytest.mark.pds, pytest.mark.slow]
CREATE_RECORD = "/xrpc/com.atproto.repo.createRecord"


class RateLimitOnCreate(httpx.BaseTransport):
    """Answers the ``fail_on``-th createRecord calls with a 429; forwards all else."""

    def __init__(self, fail_on: set[int], reset: int | None) -> None:
        self.inner = httpx.HTTPTransport()
        self.fail_on = fail_on
        self.reset = reset
        self.creates = 0
        self.refused: list[int] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == CREATE_RECORD:
            self.creates += 1
            if self.creates in self.fail_on:
                self.refused.append(self.creates)
                return httpx.Response(
                    429, headers=self._headers(), json=_RATE_LIMITED, request=request
                )
        return self.inner.handle_request(request)

    def _headers(self) -> dict[str, str]:
        headers = {"ratelimit-limit": "5000", "ratelimit-remaining": "0"}
        headers["ratelimit-policy"] = "5000;w=3600"
        if self.reset is not None:
            headers["ratelimit-reset"] = str(self.reset)  # Unix seconds, as the PDS sends
        return headers

    def close(self) -> None:
        self.inner.close()


_RATE_LIMITED = {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (20, 90, 160)).save(out, "PNG")
    return out.getvalue()


def _post(settings, store, edition, transport=None, clock=None):
    report = RunReport()
    post_edition(
        settings,
        store,
        edition,
        report,
        bluesky_request=Request(transport=transport) if transport else None,
        fetch_image=lambda url: png(),
        clock=clock or FakeClock(),
    )
    return report


def _edition(store, title):
    edition = make_edition(headlines=3)
    edition.title = title
    edition.id = stored_edition(store)
    return edition


def _statuses(store, edition_id):
    return [(e.part, e.status) for e in entries(store, edition_id, "bluesky")]


def _replies_under(pds_url, did, root_uri):
    return [
        r for r in records(pds_url, did) if r.value.reply and r.value.reply.root.uri == root_uri
    ]


def test_a_near_reset_is_waited_out_and_the_thread_finishes(bsky_settings, store, pds_url, account):
    edition = _edition(store, "Weekly List near reset")
    injector = RateLimitOnCreate({2}, reset=int(NOW.timestamp()) + 90)
    clock = FakeClock()
    report = _post(bsky_settings, store, edition, injector, clock)

    assert injector.refused == [2]
    assert injector.creates == 6  # five parts, part 2 twice: refused, then retried
    assert clock.slept == [91.0]  # the named reset, plus a second's margin
    assert report.warnings == []
    assert report.posts == 5
    chain = thread_of(pds_url, account, "Weekly List near reset")
    assert len(chain) == 5
    assert len(_replies_under(pds_url, account, chain[0].uri)) == 4  # no stray copies
    assert _statuses(store, edition.id) == [(n, "posted") for n in range(1, 6)]


def test_a_far_reset_leaves_part_2_pending_and_a_rerun_finishes_once(
    bsky_settings, store, pds_url, account
):
    edition = _edition(store, "Weekly List far reset")
    injector = RateLimitOnCreate({2}, reset=int(NOW.timestamp()) + 3600)
    clock = FakeClock()
    report = _post(bsky_settings, store, edition, injector, clock)

    assert clock.slept == []  # an hour is too long to hold the run
    assert report.posts == 1
    assert [w for w in report.warnings if "rate limited" in w] == [
        "bluesky channel 'bluesky': part 2 rate limited (Bluesky: 429 RateLimitExceeded: "
        "Rate Limit Exceeded (resets 2026-11-20 22:00:00+00:00)); rerun to finish"
    ]
    assert _statuses(store, edition.id) == [
        (1, "posted"),
        (2, "pending"),
        (3, "pending"),
        (4, "pending"),
        (5, "pending"),
    ]
    assert len(thread_of(pds_url, account, "Weekly List far reset")) == 1

    rerun = _post(bsky_settings, store, edition)
    assert rerun.warnings == []
    assert rerun.posts == 4
    chain = thread_of(pds_url, account, "Weekly List far reset")
    assert len(chain) == 5
    assert len(_replies_under(pds_url, account, chain[0].uri)) == 4
    assert _statuses(store, edition.id) == [(n, "posted") for n in range(1, 6)]

    third = _post(bsky_settings, store, edition)
    assert third.posts == 0
    assert len(_replies_under(pds_url, account, chain[0].uri)) == 4


def test_a_429_without_a_reset_is_not_waited_on(bsky_settings, store, pds_url, account):
    edition = _edition(store, "Weekly List no reset")
    clock = FakeClock()
    report = _post(bsky_settings, store, edition, RateLimitOnCreate({2}, reset=None), clock)

    assert clock.slept == []
    assert report.posts == 1
    assert _statuses(store, edition.id)[1] == (2, "pending")
